"""fastdescent"""
