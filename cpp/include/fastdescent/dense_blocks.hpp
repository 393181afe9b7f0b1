// Weighted loss and gradient sums over dense rows, for one output (a scalar loss) or K
// (multinomial, or a scalar loss per output), through the fused block kernels of the active instruction set. Shared by the batched trainer and by the
// loss-and-gradient sums that data-parallel callers combine (gradient.hpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fastdescent/data.hpp"
#include "fastdescent/kernels.hpp"
#include "fastdescent/portable.hpp"

namespace fastdescent {

// Room reused across calls: the kernel's scores and derivatives, the block's row weights, and
// row ids when the caller visits all rows in memory order.
struct BlockScratch {
    std::vector<double> values;
    std::vector<std::int64_t> ids;
    bool non_finite = false;  // a checked block had a non-finite score (see check_scores)
};

// Rows rows[lo:hi] (or lo..hi-1 when rows is null), in blocks that fit in the L1 cache, with
// K outputs of weights w (K x d) and intercepts b (K). Adds sum_i w_i dloss_i/dp_k x_i to
// grad[k d : (k + 1) d] and sum_i w_i dloss_i/dp_k to grad_b[k], w_i = row_weight(i), adds
// sum_i w_i to weight_sum and returns sum_i w_i loss_i. With check_scores, a non-finite score
// sets scratch.non_finite (TrainConfig::check_input). Rows rows[next_lo:next_hi] are the ones
// the caller reads next (the next mini-batch's share): the last block fetches them.
template <class T, class S, class RowWeight>
double dense_block_sums(const DenseRows<T, S>& X, const std::int64_t* rows, std::int64_t lo, std::int64_t hi,
                        const T* y, const T* sample_weight, RowWeight&& row_weight, LossKind loss,
                        double loss_param, int K, const T* w, const T* b, T* grad, T* grad_b,
                        BlockScratch& scratch, double& weight_sum, bool check_scores = false,
                        std::int64_t next_lo = 0, std::int64_t next_hi = 0) {
    // Several outputs of a scalar loss: the kernel transposes the weights per block, so blocks
    // are longer (the rows' second read then comes from L2).
    const bool outputs = K > 1 && loss != LossKind::multinomial;
    const std::int64_t max_block = outputs ? 256 : 64;
    const std::int64_t row_bytes = X.n_cols * std::int64_t(sizeof(S));
    // About 8 KiB of rows: the block (read twice) and the next one (being fetched) stay in L1
    // together; with 24 KiB the fetches evicted rows before their second read (the full-batch
    // iteration against the floor in benchmarks/bench_training.py measures this). A multiple
    // of 8 rows, so that the vectorized loss terms have no scalar remainder.
    const std::int64_t fit = (8 << 10) / std::max<std::int64_t>(row_bytes, 1);
    std::int64_t block =
        outputs ? max_block : std::max<std::int64_t>(8, std::min<std::int64_t>(max_block, fit) / 8 * 8);
    // Blocks of even length (a multiple of 8 rows, at most the above): a mini-batch's share of
    // 128 float16 rows of 100 is 4 blocks of 32 rather than 3 of 40 and one of 8.
    if (!outputs && hi - lo > block) {
        const std::int64_t n_blocks = (hi - lo + block - 1) / block;
        block = std::min(block, ((hi - lo + n_blocks - 1) / n_blocks + 7) / 8 * 8);
    }
    scratch.values.resize(std::size_t((2 * K + 1) * max_block));
    double* weights = scratch.values.data() + 2 * K * max_block;
    // Ids for this block and the next one (the kernel fetches the next block's rows), where
    // rows does not hold them side by side.
    scratch.ids.resize(std::size_t(2 * max_block));
    auto id_of = [rows](std::int64_t q) { return rows ? rows[q] : q; };
    const int width = target_width(loss, K);  // targets per row
    double total = 0.0;
    for (std::int64_t r = lo; r < hi; r += block) {
        const std::int64_t m = std::min(block, hi - r);
        std::int64_t m_next = std::min(block, hi - r - m);
        const bool last = m_next == 0 && next_hi > next_lo;  // followed by the caller's next rows
        if (last) m_next = std::min(block, next_hi - next_lo);
        const std::int64_t next = last ? next_lo : r + m;
        const std::int64_t* ids = rows ? rows + r : scratch.ids.data();
        if (!rows || last) {
            for (std::int64_t q = 0; q < m; ++q) scratch.ids[std::size_t(q)] = id_of(r + q);
            for (std::int64_t q = 0; q < m_next; ++q) scratch.ids[std::size_t(m + q)] = id_of(next + q);
            ids = scratch.ids.data();
        }
        // The kernel fetches the next block's rows; their targets and weights are fetched here.
        for (std::int64_t q = m; q < m + m_next; ++q) {
            prefetch_read(y + ids[q] * width);
            if (sample_weight) prefetch_read(sample_weight + ids[q]);
        }
        for (std::int64_t q = 0; q < m; ++q) weights[q] = row_weight(ids[q]);
        weight_sum += sum_by_fours(weights, m);
        const DenseBlock<T, S> blk{X.data, X.row_stride, X.n_cols, ids, m, m_next, y, weights,
                                loss, loss_param, K, w, b, scratch.values.data(),
                                check_scores ? &scratch.non_finite : nullptr};
        total += loss == LossKind::multinomial ? X.kernels->block_gradient_softmax(blk, grad, grad_b)
                 : K > 1                       ? X.kernels->block_gradient_outputs(blk, grad, grad_b)
                                               : X.kernels->block_gradient(blk, grad, grad_b);
    }
    return total;
}

}  // namespace fastdescent
