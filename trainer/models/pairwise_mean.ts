// The mean of all of a tensor's elements, summed in blocks level by level: float32 error that does not grow with size.
import * as tf from "@tensorflow/tfjs-core";

/**
 * Elements summed by one backend Sum call at each level. The wasm backend adds a reduction
 * sequentially in float32, whose error grows with the count; at each level here no partial sum
 * holds more than BLOCK terms, so the error is ~BLOCK·ε per level and there are log_BLOCK(n) levels.
 */
export const PAIRWISE_MEAN_BLOCK = 64;

/**
 * mean(x) over all elements as a scalar, reduced in blocks of PAIRWISE_MEAN_BLOCK (a blocked pairwise
 * sum, like NumPy's). Its gradient is tf.mean's, op for op (dy·1/n broadcast), so training steps
 * differ from tf.mean's only by the loss value's rounding.
 */
export function pairwiseMean(x: tf.Tensor): tf.Scalar {
  const count = x.size;
  const meanOf = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const value = tf.tidy(() => tf.div(blockedSum(tf.reshape(input, [count])), count) as tf.Scalar);
    // As tfjs's Mean gradient: div(mul(reshape(dy, [1, …]), ones(x.shape)), n).
    const gradFunc = (dy: tf.Tensor): tf.Tensor =>
      tf.div(
        tf.mul(
          tf.reshape(
            dy,
            input.shape.map(() => 1),
          ),
          tf.ones(input.shape, "float32"),
        ),
        count,
      );
    return { value, gradFunc };
  });
  return meanOf(x) as tf.Scalar;
}

/** Sum of a 1-D tensor: pad to whole blocks with zeros, sum each block, repeat on the block sums. */
function blockedSum(flat: tf.Tensor1D): tf.Scalar {
  let level: tf.Tensor1D = flat;
  while (level.size > PAIRWISE_MEAN_BLOCK) {
    const blocks = Math.ceil(level.size / PAIRWISE_MEAN_BLOCK);
    const padding = blocks * PAIRWISE_MEAN_BLOCK - level.size;
    const whole = padding === 0 ? level : tf.pad(level, [[0, padding]]);
    level = tf.sum(tf.reshape(whole, [blocks, PAIRWISE_MEAN_BLOCK]), 1);
  }
  return tf.sum(level);
}
