#include "fastdescent/trainer.hpp"

namespace fastdescent {

template FASTDESCENT_TRAIN(DenseRows<float>);
template FASTDESCENT_TRAIN(DenseRows<double>);
template FASTDESCENT_TRAIN(CsrRows32f);
template FASTDESCENT_TRAIN(CsrRows64f);
template FASTDESCENT_TRAIN(CsrRows32d);
template FASTDESCENT_TRAIN(CsrRows64d);

}  // namespace fastdescent
