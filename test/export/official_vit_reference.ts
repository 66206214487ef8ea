// Test reference: the official VisionTransformer forward pass (facebookresearch/ijepa src/models/vision_transformer.py),
// written loop by loop in float64 on a state dict in PyTorch layout, to pin down what a PyTorch user's load_state_dict gets.

/** A state dict as safetensors.torch.load_file returns it: name → row-major data and shape. */
export type TorchStateDict = Map<string, { shape: number[]; data: Float32Array }>;

export interface OfficialVitArgs {
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** nn.LayerNorm eps of the vit_* constructors. */
  eps: number;
}

/** Reads a safetensors file the way the reference reader does: 8-byte LE header length, JSON header, raw little-endian data. */
export function readSafetensorsLikeTorch(bytes: Uint8Array): {
  header: Record<string, unknown>;
  tensors: TorchStateDict;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const tensors: TorchStateDict = new Map();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const {
      shape,
      data_offsets: [begin, end],
    } = entry as { shape: number[]; data_offsets: [number, number] };
    const raw = bytes.slice(8 + headerLength + begin, 8 + headerLength + end);
    tensors.set(name, { shape, data: new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) });
  }
  return { header, tensors };
}

/**
 * encoder(x).mean(dim=1) for images given as float NHWC (already normalised): PatchEmbed (Conv2d,
 * stride = kernel = patch, then flatten(2).transpose(1, 2)), + pos_embed, Blocks (pre-norm attention
 * with qkv reshaped (B, N, 3, heads, head_dim) and permuted, exact-erf GELU MLP), final norm.
 */
export function officialPooledFeatures(
  sd: TorchStateDict,
  args: OfficialVitArgs,
  imagesNhwc: Float32Array,
  batch: number,
): Float64Array {
  const w = (name: string): Float32Array => {
    const t = sd.get(name);
    if (!t) throw new Error(`state dict has no ${name}`);
    return t.data;
  };
  const { imgSize: S, patchSize: p, inChans: C, embedDim: D, numHeads: H } = args;
  const G = Math.floor(S / p);
  const N = G * G;
  const out = new Float64Array(batch * D);
  for (let b = 0; b < batch; b++) {
    // x: NCHW view of image b.
    const px = (c: number, y: number, xx: number) => imagesNhwc[((b * S + y) * S + xx) * C + c];
    // PatchEmbed: Conv2d weight [D, C, p, p]; output [D, G, G] flattened to tokens n = gy·G + gx.
    const convW = w("patch_embed.proj.weight");
    const convB = w("patch_embed.proj.bias");
    const pos = w("pos_embed"); // [1, N, D]
    let x: Float64Array[] = [];
    for (let gy = 0; gy < G; gy++) {
      for (let gx = 0; gx < G; gx++) {
        const token = new Float64Array(D);
        for (let d = 0; d < D; d++) {
          let acc = convB[d];
          for (let c = 0; c < C; c++) {
            for (let kh = 0; kh < p; kh++) {
              for (let kw = 0; kw < p; kw++)
                acc += convW[((d * C + c) * p + kh) * p + kw] * px(c, gy * p + kh, gx * p + kw);
            }
          }
          token[d] = acc + pos[(gy * G + gx) * D + d];
        }
        x.push(token);
      }
    }
    for (let i = 0; i < args.depth; i++) {
      const pre = `blocks.${i}.`;
      const h1 = x.map((t) => layerNorm(t, w(pre + "norm1.weight"), w(pre + "norm1.bias"), args.eps));
      const attn = attention(
        h1,
        w(pre + "attn.qkv.weight"),
        w(pre + "attn.qkv.bias"),
        w(pre + "attn.proj.weight"),
        w(pre + "attn.proj.bias"),
        H,
      );
      x = x.map((t, n) => t.map((v, d) => v + attn[n][d]));
      const h2 = x.map((t) => layerNorm(t, w(pre + "norm2.weight"), w(pre + "norm2.bias"), args.eps));
      x = x.map((t, n) => {
        const hidden = linear(h2[n], w(pre + "mlp.fc1.weight"), w(pre + "mlp.fc1.bias")).map(geluExact);
        const m = linear(hidden, w(pre + "mlp.fc2.weight"), w(pre + "mlp.fc2.bias"));
        return t.map((v, d) => v + m[d]);
      });
    }
    const normed = x.map((t) => layerNorm(t, w("norm.weight"), w("norm.bias"), args.eps));
    for (let d = 0; d < D; d++) out[b * D + d] = normed.reduce((s, t) => s + t[d], 0) / N;
  }
  return out;
}

/** nn.Linear: y = x Wᵀ + b with W [out, in]. */
function linear(x: Float64Array, weight: Float32Array, bias: Float32Array): Float64Array {
  const outDim = bias.length;
  const inDim = x.length;
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let acc = bias[o];
    for (let i = 0; i < inDim; i++) acc += weight[o * inDim + i] * x[i];
    y[o] = acc;
  }
  return y;
}

function layerNorm(x: Float64Array, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length; // biased, as nn.LayerNorm
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i] + beta[i]);
}

/** Attention.forward on one sequence of tokens. */
function attention(
  tokens: Float64Array[],
  qkvW: Float32Array,
  qkvB: Float32Array,
  projW: Float32Array,
  projB: Float32Array,
  heads: number,
): Float64Array[] {
  const N = tokens.length;
  const C = tokens[0].length;
  const hd = C / heads;
  const scale = hd ** -0.5;
  const qkv = tokens.map((t) => linear(t, qkvW, qkvB)); // [N, 3C]
  // reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4): q[h][n][j] = qkv[n][0·C + h·hd + j], k: 1·C, v: 2·C
  const part = (which: number, h: number, n: number, j: number) => qkv[n][which * C + h * hd + j];
  const merged = tokens.map(() => new Float64Array(C));
  for (let h = 0; h < heads; h++) {
    for (let n = 0; n < N; n++) {
      const logits = new Float64Array(N);
      for (let m = 0; m < N; m++) {
        let dot = 0;
        for (let j = 0; j < hd; j++) dot += part(0, h, n, j) * part(1, h, m, j);
        logits[m] = dot * scale;
      }
      const max = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - max));
      const sum = e.reduce((a, b) => a + b, 0);
      // (attn @ v).transpose(1, 2).reshape(B, N, C): head h fills channels h·hd … h·hd + hd − 1
      for (let j = 0; j < hd; j++) {
        let acc = 0;
        for (let m = 0; m < N; m++) acc += (e[m] / sum) * part(2, h, m, j);
        merged[n][h * hd + j] = acc;
      }
    }
  }
  return merged.map((t) => linear(t, projW, projB));
}

/** nn.GELU(): x·Φ(x) with the exact error function. */
function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** erf to ~1e-15 via its Maclaurin series (small |x|) or the Lentz continued fraction of erfc (large |x|). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
