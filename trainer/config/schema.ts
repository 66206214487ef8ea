// The training config: the official I-JEPA YAML schema (data, mask, meta, optimization, logging) plus our own keys.
import { z } from "zod";

const range = (lo: number, hi: number) =>
  z
    .tuple([z.number().min(lo).max(hi), z.number().min(lo).max(hi)])
    .refine(([a, b]) => a <= b, { message: "expected [min, max] with min <= max" });

export const MODEL_NAMES = ["vit_tiny", "vit_small", "vit_base", "vit_large", "vit_huge", "vit_giant"] as const;

const data = z.strictObject({
  batch_size: z.number().int().min(1),
  crop_size: z.number().int().min(4).describe("side of the square training crop, in pixels"),
  crop_scale: range(0.01, 1).default([0.3, 1.0]),
  /** Extension: [min, max] aspect ratio of RandomResizedCrop (torchvision's default). */
  crop_ratio: range(0.05, 20).default([3 / 4, 4 / 3]),
  use_horizontal_flip: z.boolean().default(false),
  use_color_distortion: z
    .literal(false, { message: "colour distortion is not implemented; set it to false (I-JEPA trains without it)" })
    .default(false),
  use_gaussian_blur: z
    .literal(false, { message: "Gaussian blur is not implemented; set it to false (I-JEPA trains without it)" })
    .default(false),
  color_jitter_strength: z.number().min(0).default(0),
  /** Extension: the dataset (name such as fashion-mnist, folder, or manifest URI); --data overrides it. */
  dataset: z.string().optional(),
  /**
   * Extension: train on only the first N images of the train split (stored order; every epoch reshuffles those N).
   * For quick runs such as the smoke preset. Absent = the whole split. Normalization statistics stay the split's.
   */
  train_limit: z.number().int().min(1).optional(),
  // Official keys that describe the PyTorch loader; accepted so official configs load, but unused here.
  num_workers: z.number().int().min(0).optional(),
  pin_mem: z.boolean().optional(),
  root_path: z.string().optional(),
  image_folder: z.string().optional(),
});

const mask = z.strictObject({
  allow_overlap: z.boolean().default(false),
  aspect_ratio: range(0.01, 100).default([0.75, 1.5]),
  enc_mask_scale: range(0.01, 1).default([0.85, 1.0]),
  min_keep: z.number().int().min(0).default(10),
  num_enc_masks: z.number().int().min(1).default(1),
  num_pred_masks: z.number().int().min(1).default(4),
  patch_size: z.number().int().min(1),
  pred_mask_scale: range(0.01, 1).default([0.15, 0.2]),
  /**
   * Extension. "official": block corners from randint(0, H - h), whose exclusive upper bound means a
   * block never touches the last row/column (parity with facebookresearch/ijepa). "uniform": every
   * position is possible.
   */
  corner_sampling: z.enum(["official", "uniform"]).default("official"),
});

const meta = z.strictObject({
  model_name: z.enum(MODEL_NAMES),
  pred_depth: z.number().int().min(1),
  pred_emb_dim: z.number().int().min(2),
  use_bfloat16: z
    .literal(false, {
      message: "TensorFlow.js computes in float32 only; set meta.use_bfloat16: false (we do not fake bf16)",
    })
    .default(false),
  load_checkpoint: z.boolean().default(false),
  read_checkpoint: z
    .null({
      message:
        "choosing a checkpoint in the config is not supported; leave meta.read_checkpoint null and pass --resume-from <step>",
    })
    .default(null),
  copy_data: z.boolean().optional(),
  /** Extensions: override the preset's width/depth/heads/MLP ratio (e.g. a 6-block vit_tiny). */
  embed_dim: z.number().int().min(2).optional(),
  depth: z.number().int().min(1).optional(),
  num_heads: z.number().int().min(1).optional(),
  mlp_ratio: z.number().positive().optional(),
  /** Extension: predictor heads (official: the encoder's head count). */
  pred_num_heads: z.number().int().min(1).optional(),
  /** Extension: divide attn.proj/mlp.fc2 weights by sqrt(2·layer_id) at init (the official model does). */
  init_rescale: z.boolean().default(true),
  /** Extension: the run's seed (official: _GLOBAL_SEED = 0). --seed overrides it. */
  seed: z.number().int().min(0).default(0),
});

const optimization = z.strictObject({
  ema: range(0, 1).default([0.996, 1.0]),
  epochs: z.number().int().min(1),
  final_lr: z.number().min(0).default(1e-6),
  final_weight_decay: z.number().min(0).default(0.4),
  ipe_scale: z.number().positive().default(1.0),
  /** 0 is allowed: a run that leaves the weights at their initialisation (a baseline checkpoint). */
  lr: z.number().min(0),
  start_lr: z.number().min(0),
  warmup: z.number().min(0).describe("warm-up length in epochs"),
  weight_decay: z.number().min(0).default(0.04),
  /** Extension: "smooth_l1" is what the official code trains with; "l2" is the paper's wording. */
  loss: z.enum(["smooth_l1", "l2"]).default("smooth_l1"),
  /** Extension: AdamW betas and eps (PyTorch defaults). */
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  eps: z.number().positive().default(1e-8),
});

const logging = z.strictObject({
  folder: z.string().optional(),
  write_tag: z.string().default("jepa"),
  /** Extension: a metrics line (and, off a TTY, a progress line) every N steps. */
  log_every: z.number().int().min(1).default(10),
  /** Extension: a checkpoint every N steps (0 = only at epoch ends). */
  checkpoint_every: z.number().int().min(0).default(0),
  /** Extension: also a checkpoint once this many wall-clock minutes passed since the last (0 = off); bounds what
   * a spot reclaim (SIGTERM, then SIGKILL 30 s later) can lose when one checkpoint outlasts those 30 s. */
  checkpoint_every_minutes: z.number().min(0).default(15),
  /** Extension: warn loudly when the mean per-dimension std of pooled target features falls below this. */
  collapse_std_threshold: z.number().min(0).default(0.01),
  /** Extension: images of the train split used for the per-epoch collapse metrics. */
  collapse_sample: z.number().int().min(8).default(512),
  /** Extension: train images the workflow's linear probe fits on (the first N), unless the execution input says. */
  probe_train_limit: z.number().int().min(1).default(10_000),
  /** Extension: test images the workflow's probe scores (the first N; 0 = the whole split), unless the input says. */
  probe_test_limit: z.number().int().min(0).default(0),
});

export const trainConfigSchema = z.strictObject({
  data,
  mask,
  meta,
  optimization,
  logging: logging.default({
    write_tag: "jepa",
    log_every: 10,
    checkpoint_every: 0,
    checkpoint_every_minutes: 15,
    collapse_std_threshold: 0.01,
    collapse_sample: 512,
    probe_train_limit: 10_000,
    probe_test_limit: 0,
  }),
});

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
