#include "fastdescent/trainer.hpp"

namespace fastdescent {

template FASTDESCENT_TRAIN(HalfRows);
template FASTDESCENT_TRAIN(BFloat16Rows);

}  // namespace fastdescent
