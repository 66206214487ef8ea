// Weighted k-nearest-neighbour classification on L2-normalised features, as in DINO's eval_knn.
import * as tf from "@tensorflow/tfjs-core";
import { DataError } from "../errors.js";
import type { LabelledFeatures } from "./labelled_features.js";
import { type ClassificationAccuracy, classificationAccuracy } from "./topk_accuracy.js";

export const DEFAULT_KNN_K = 20;
export const DEFAULT_KNN_TEMPERATURE = 0.07;
/** Similarity values held at once by default (test rows per chunk × train rows): 32 MiB of float32. */
export const DEFAULT_KNN_CHUNK_ELEMENTS = 1 << 23;

export interface KnnOptions {
  /** Neighbours that vote (capped at the number of train rows). Default 20. */
  k?: number;
  /** Votes are exp(cosine / temperature). Default 0.07. */
  temperature?: number;
  /** Test rows per similarity chunk; default keeps chunk × train rows ≤ DEFAULT_KNN_CHUNK_ELEMENTS. */
  chunkRows?: number;
  /** Called after each chunk of test rows. */
  onChunk?: (rowsDone: number, rowsTotal: number) => void;
}

export interface KnnResult extends ClassificationAccuracy {
  k: number;
  temperature: number;
}

/**
 * Class votes for each query row, row-major [queries, numClasses]: the k train rows with the
 * highest cosine similarity each add exp(sim / T) to their class. Ties in similarity go to the lower
 * train index, so the result is deterministic. Similarities are computed on the tfjs backend one
 * chunk of query rows at a time, so memory stays bounded whatever the test-set size.
 */
export function knnVotes(
  train: LabelledFeatures,
  queries: Float32Array,
  dim: number,
  numClasses: number,
  options: KnnOptions = {},
): Float64Array {
  const trainRows = train.labels.length;
  const queryRows = queries.length / dim;
  if (trainRows === 0) throw new DataError("kNN: no train rows to vote");
  if (!Number.isInteger(queryRows))
    throw new DataError(`kNN: ${queries.length} query values is not a whole number of rows of dimension ${dim}`);
  const k = Math.min(options.k ?? DEFAULT_KNN_K, trainRows);
  const temperature = options.temperature ?? DEFAULT_KNN_TEMPERATURE;
  if (!Number.isInteger(k) || k < 1) throw new DataError(`kNN: k ${options.k} must be an integer ≥ 1`);
  if (!(temperature > 0)) throw new DataError(`kNN: temperature ${temperature} must be > 0`);
  const chunkRows = options.chunkRows ?? Math.max(1, Math.floor(DEFAULT_KNN_CHUNK_ELEMENTS / trainRows));
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new DataError(`kNN: chunkRows ${chunkRows} must be an integer ≥ 1`);

  const votes = new Float64Array(queryRows * numClasses);
  // [dim, trainRows]: transposed once so every chunk is a plain matMul (the fast path on wasm).
  const trainT = tf.tidy(() => tf.transpose(tf.tensor2d(l2Normalized(train.features, dim), [trainRows, dim])));
  const topSimilarity = new Float64Array(k);
  const topIndex = new Int32Array(k);
  try {
    for (let start = 0; start < queryRows; start += chunkRows) {
      const end = Math.min(queryRows, start + chunkRows);
      const chunkQueries = l2Normalized(queries.subarray(start * dim, end * dim), dim);
      const similarityTensor = tf.tidy(() => tf.matMul(tf.tensor2d(chunkQueries, [end - start, dim]), trainT));
      const similarity = similarityTensor.dataSync() as Float32Array;
      similarityTensor.dispose();
      for (let q = 0; q < end - start; q++) {
        selectTopK(similarity, q * trainRows, trainRows, topSimilarity, topIndex);
        const voteBase = (start + q) * numClasses;
        for (let j = 0; j < k; j++)
          votes[voteBase + train.labels[topIndex[j]]] += Math.exp(topSimilarity[j] / temperature);
      }
      options.onChunk?.(end, queryRows);
    }
  } finally {
    trainT.dispose();
  }
  return votes;
}

/** kNN top-1 (and top-5 when numClasses > 5) of `test` against `train`. */
export function evaluateKnn(
  train: LabelledFeatures,
  test: LabelledFeatures,
  dim: number,
  numClasses: number,
  options: KnnOptions = {},
): KnnResult {
  const votes = knnVotes(train, test.features, dim, numClasses, options);
  return {
    ...classificationAccuracy(votes, test.labels, numClasses),
    k: Math.min(options.k ?? DEFAULT_KNN_K, train.labels.length),
    temperature: options.temperature ?? DEFAULT_KNN_TEMPERATURE,
  };
}

/** Each row divided by max(‖row‖₂, 1e-12) (torch's F.normalize), as a new array. */
export function l2Normalized(features: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(features.length);
  for (let base = 0; base < features.length; base += dim) {
    let squared = 0;
    for (let j = 0; j < dim; j++) squared += features[base + j] * features[base + j];
    const scale = 1 / Math.max(Math.sqrt(squared), 1e-12);
    for (let j = 0; j < dim; j++) out[base + j] = features[base + j] * scale;
  }
  return out;
}

/**
 * The k largest of values[offset .. offset+length) into (topValue, topIndex), best first. Scanning
 * in index order and inserting only on strictly greater values keeps the earlier index on ties.
 */
function selectTopK(
  values: Float32Array,
  offset: number,
  length: number,
  topValue: Float64Array,
  topIndex: Int32Array,
): void {
  const k = topValue.length;
  let filled = 0;
  for (let i = 0; i < length; i++) {
    const v = values[offset + i];
    if (filled === k) {
      if (!(v > topValue[k - 1])) continue;
    } else {
      filled++;
    }
    let p = filled - 1;
    while (p > 0 && v > topValue[p - 1]) {
      topValue[p] = topValue[p - 1];
      topIndex[p] = topIndex[p - 1];
      p--;
    }
    topValue[p] = v;
    topIndex[p] = i;
  }
}
