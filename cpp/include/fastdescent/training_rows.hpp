// The training rows in the order an epoch visits them.
#pragma once
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "fastdescent/rng.hpp"

namespace fastdescent {

// Either all rows 0..n-1 in memory order, with no ids stored, or a stored list of ids (the rows
// left by the validation split, or a shuffle). Full batches and unshuffled epochs never need the
// ids, which for a million rows cost a fit 4 ms of page faults before its first step (0.15 of a
// float64 full-batch epoch at 1,000,000 x 100).
class TrainingRows {
public:
    explicit TrainingRows(std::int64_t n = 0) : n_(std::size_t(n)) {}
    explicit TrainingRows(std::vector<std::int64_t> ids) : n_(ids.size()), ids_(std::move(ids)) {}

    std::size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    std::int64_t operator[](std::size_t r) const { return ids_.empty() ? std::int64_t(r) : ids_[r]; }
    // The stored ids, or null for memory order (the form dense_block_sums takes).
    const std::int64_t* data() const { return ids_.empty() ? nullptr : ids_.data(); }

    // Fisher-Yates over the ids, stored first if they were not (the same permutations as
    // shuffling 0..n-1).
    void shuffle(Rng& rng) {
        if (ids_.empty() && n_ > 0) {
            ids_.resize(n_);
            std::iota(ids_.begin(), ids_.end(), std::int64_t(0));
        }
        rng.shuffle(ids_);
    }

private:
    std::size_t n_;
    std::vector<std::int64_t> ids_;
};

}  // namespace fastdescent
