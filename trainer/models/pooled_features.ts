// Average-pooled encoder features of whole images (the probe's and the collapse metrics' input).
import * as tf from "@tensorflow/tfjs-core";
import type { VisionTransformer } from "./vision_transformer.js";
import { patchify } from "./vision_transformer.js";
import { resizeBatch } from "../transforms.js";

export interface FeatureImages {
  images: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Runs the encoder (with its final norm) on every image resized to the model's input size and
 * normalised with mean/std, then averages the patch tokens → [count, D]. Processes `chunk` images at a time.
 */
export function pooledFeatures(
  encoder: VisionTransformer,
  data: FeatureImages,
  mean: number[],
  std: number[],
  chunk = 128,
  onChunk?: (done: number) => void,
): Float32Array {
  const d = encoder.dims;
  if (data.channels !== d.inChannels) {
    throw new Error(`the images have ${data.channels} channel(s) but the encoder was trained on ${d.inChannels}`);
  }
  const out = new Float32Array(data.count * d.embedDim);
  const bytesPerImage = data.height * data.width * data.channels;
  for (let start = 0; start < data.count; start += chunk) {
    const n = Math.min(chunk, data.count - start);
    const resized = resizeBatch(
      data.images.subarray(start * bytesPerImage, (start + n) * bytesPerImage),
      n,
      data.height,
      data.width,
      data.channels,
      d.imageSize,
      mean,
      std,
    );
    const rows = patchify(resized, n, d.imageSize, d.inChannels, d.patchSize);
    const pooled = tf.tidy(() => {
      const patches = tf.tensor2d(rows, [n * d.numPatches, d.inChannels * d.patchSize * d.patchSize]);
      const tokens = encoder.forwardFull(patches, n, true);
      return tf.mean(tf.reshape(tokens, [n, d.numPatches, d.embedDim]), 1);
    });
    out.set(pooled.dataSync() as Float32Array, start * d.embedDim);
    pooled.dispose();
    onChunk?.(start + n);
  }
  return out;
}
