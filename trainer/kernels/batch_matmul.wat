;; Batched float32 matrix products C[b] = op(A[b]) · op(B[b]) in 128-bit wasm SIMD, run on TensorFlow.js's own wasm heap.
;;
;; Assembled by scripts/build-wasm-kernels.ts into trainer/kernels/batch_matmul_wasm.ts (test/kernels checks they agree).
;; Standard SIMD only (no relaxed-SIMD FMA): V8 11.3 / Node 20 runs it without flags.
;;
;; Every matrix is row-major float32 and the batches are packed one after another; pointers are byte offsets into the
;; imported memory, which is the wasm backend's heap, so tensors are used where they lie. Nothing assumes more than
;; 4-byte alignment (tfjs's malloc gives 8 or 16, and v128 accesses are unaligned-safe in wasm anyway).
;;
;; How each layout is computed (A is M×K after op, B is K×N after op):
;;   NN, TN  C is built in tiles of 4 rows × 8 columns held in eight v128 accumulators. For each k the tile adds
;;           A[i,k] (broadcast with v128.load32_splat) times two vectors of B's row k — an outer-product update that
;;           only ever reads B along its rows. NN reaches A[i,k] through four row pointers stepping 4 bytes; TN (A
;;           stored K×M) finds the tile's four A values side by side at fixed offsets from one pointer.
;;   NT      A and B are both contiguous along K: tiles of 2 rows × 4 columns of 4-wide dot products, each row of the
;;           tile reduced by a 4×4 transpose-add into one vector of C. Edge tiles overlap the tile before them (they
;;           recompute a few identical values) instead of needing narrower kernels.
;;   TT, and NT with K > 512 or fewer than 2 rows or 4 columns: B is first transposed into the caller's scratch
;;           buffer (scratch_bytes says how big) and the TN or NN path runs on it.
;; Large products are blocked: K in chunks of 256 (later chunks add onto C) and N in chunks of 256 columns, so the
;; B panel being swept (256 KiB) stays in L2. Attention-sized products (K, N <= 256) are a single block.
(module
  (import "env" "memory" (memory 1))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; Partial vectors for the last 1–3 columns of a row (w = 4 is a whole vector). Only the w floats are touched, so
  ;; nothing outside the tensor is read or written.
  (func $load_cols (param $p i32) (param $w i32) (result v128)
    (if (result v128) (i32.eq (local.get $w) (i32.const 4))
      (then (v128.load align=4 (local.get $p)))
      (else
        (if (result v128) (i32.eq (local.get $w) (i32.const 1))
          (then (v128.load32_zero align=4 (local.get $p)))
          (else
            (if (result v128) (i32.eq (local.get $w) (i32.const 2))
              (then (v128.load64_zero align=4 (local.get $p)))
              (else (v128.load32_lane offset=8 align=4 2 (local.get $p) (v128.load64_zero align=4 (local.get $p))))))))))

  (func $store_cols (param $p i32) (param $w i32) (param $v v128)
    (if (i32.eq (local.get $w) (i32.const 4))
      (then (v128.store align=4 (local.get $p) (local.get $v)) (return)))
    (if (i32.eq (local.get $w) (i32.const 1))
      (then (v128.store32_lane align=4 0 (local.get $p) (local.get $v)) (return)))
    (v128.store64_lane align=4 0 (local.get $p) (local.get $v))
    (if (i32.eq (local.get $w) (i32.const 3))
      (then (v128.store32_lane offset=8 align=4 2 (local.get $p) (local.get $v)))))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; Micro-kernels: C[0..R, 0..W) (+)= A[0..R, 0..kc) · B[0..kc, 0..W) for one tile.
  ;;   $pa    A[0,0] of the tile        $pb  B[0,0] of the tile      $pc  C[0,0] of the tile
  ;;   $rs    row stride of B and C in bytes (both have N columns)
  ;;   $kc    number of k steps (>= 1)   $accumulate  0: C = A·B, 1: C += A·B (later K chunks)
  ;; The accumulators start at zero (wasm zeroes locals) unless the tile accumulates.

  ;; NN, 4 rows × 8 columns; A row-major with row stride $a_rs bytes.
  (func $nn_4x8 (param $pa i32) (param $a_rs i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $kc i32) (param $accumulate i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $pc1 i32) (local $pc2 i32) (local $pc3 i32)
    (local.set $pa1 (i32.add (local.get $pa) (local.get $a_rs)))
    (local.set $pa2 (i32.add (local.get $pa1) (local.get $a_rs)))
    (local.set $pa3 (i32.add (local.get $pa2) (local.get $a_rs)))
    (local.set $pc1 (i32.add (local.get $pc) (local.get $rs)))
    (local.set $pc2 (i32.add (local.get $pc1) (local.get $rs)))
    (local.set $pc3 (i32.add (local.get $pc2) (local.get $rs)))
    (if (local.get $accumulate)
      (then
        (local.set $c00 (v128.load align=4 (local.get $pc)))
        (local.set $c01 (v128.load offset=16 align=4 (local.get $pc)))
        (local.set $c10 (v128.load align=4 (local.get $pc1)))
        (local.set $c11 (v128.load offset=16 align=4 (local.get $pc1)))
        (local.set $c20 (v128.load align=4 (local.get $pc2)))
        (local.set $c21 (v128.load offset=16 align=4 (local.get $pc2)))
        (local.set $c30 (v128.load align=4 (local.get $pc3)))
        (local.set $c31 (v128.load offset=16 align=4 (local.get $pc3)))))
    (loop $k
      (local.set $b0 (v128.load align=4 (local.get $pb)))
      (local.set $b1 (v128.load offset=16 align=4 (local.get $pb)))
      (local.set $a (v128.load32_splat align=4 (local.get $pa)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat align=4 (local.get $pa1)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat align=4 (local.get $pa2)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat align=4 (local.get $pa3)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $pb (i32.add (local.get $pb) (local.get $rs)))
      (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
      (local.set $pa1 (i32.add (local.get $pa1) (i32.const 4)))
      (local.set $pa2 (i32.add (local.get $pa2) (i32.const 4)))
      (local.set $pa3 (i32.add (local.get $pa3) (i32.const 4)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store align=4 (local.get $pc) (local.get $c00))
    (v128.store offset=16 align=4 (local.get $pc) (local.get $c01))
    (v128.store align=4 (local.get $pc1) (local.get $c10))
    (v128.store offset=16 align=4 (local.get $pc1) (local.get $c11))
    (v128.store align=4 (local.get $pc2) (local.get $c20))
    (v128.store offset=16 align=4 (local.get $pc2) (local.get $c21))
    (v128.store align=4 (local.get $pc3) (local.get $c30))
    (v128.store offset=16 align=4 (local.get $pc3) (local.get $c31)))

  ;; TN, 4 rows × 8 columns; A stored K×M, so the tile's A[0..4, k] are adjacent and k steps by $a_step bytes.
  (func $tn_4x8 (param $pa i32) (param $a_step i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $kc i32) (param $accumulate i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $pc1 i32) (local $pc2 i32) (local $pc3 i32)
    (local.set $pc1 (i32.add (local.get $pc) (local.get $rs)))
    (local.set $pc2 (i32.add (local.get $pc1) (local.get $rs)))
    (local.set $pc3 (i32.add (local.get $pc2) (local.get $rs)))
    (if (local.get $accumulate)
      (then
        (local.set $c00 (v128.load align=4 (local.get $pc)))
        (local.set $c01 (v128.load offset=16 align=4 (local.get $pc)))
        (local.set $c10 (v128.load align=4 (local.get $pc1)))
        (local.set $c11 (v128.load offset=16 align=4 (local.get $pc1)))
        (local.set $c20 (v128.load align=4 (local.get $pc2)))
        (local.set $c21 (v128.load offset=16 align=4 (local.get $pc2)))
        (local.set $c30 (v128.load align=4 (local.get $pc3)))
        (local.set $c31 (v128.load offset=16 align=4 (local.get $pc3)))))
    (loop $k
      (local.set $b0 (v128.load align=4 (local.get $pb)))
      (local.set $b1 (v128.load offset=16 align=4 (local.get $pb)))
      (local.set $a (v128.load32_splat align=4 (local.get $pa)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=4 align=4 (local.get $pa)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=8 align=4 (local.get $pa)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $a (v128.load32_splat offset=12 align=4 (local.get $pa)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $a) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $a) (local.get $b1))))
      (local.set $pb (i32.add (local.get $pb) (local.get $rs)))
      (local.set $pa (i32.add (local.get $pa) (local.get $a_step)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store align=4 (local.get $pc) (local.get $c00))
    (v128.store offset=16 align=4 (local.get $pc) (local.get $c01))
    (v128.store align=4 (local.get $pc1) (local.get $c10))
    (v128.store offset=16 align=4 (local.get $pc1) (local.get $c11))
    (v128.store align=4 (local.get $pc2) (local.get $c20))
    (v128.store offset=16 align=4 (local.get $pc2) (local.get $c21))
    (v128.store align=4 (local.get $pc3) (local.get $c30))
    (v128.store offset=16 align=4 (local.get $pc3) (local.get $c31)))

  ;; Either layout, 4 rows × $w (1–4) columns: the right edge of C. A[r, k] is at $pa + r·$a_rs + k·$a_step.
  (func $any_4xw (param $pa i32) (param $a_rs i32) (param $a_step i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $kc i32) (param $accumulate i32) (param $w i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $b v128)
    (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
    (local.set $pa1 (i32.add (local.get $pa) (local.get $a_rs)))
    (local.set $pa2 (i32.add (local.get $pa1) (local.get $a_rs)))
    (local.set $pa3 (i32.add (local.get $pa2) (local.get $a_rs)))
    (if (local.get $accumulate)
      (then
        (local.set $c0 (call $load_cols (local.get $pc) (local.get $w)))
        (local.set $c1 (call $load_cols (i32.add (local.get $pc) (local.get $rs)) (local.get $w)))
        (local.set $c2 (call $load_cols (i32.add (local.get $pc) (i32.shl (local.get $rs) (i32.const 1))) (local.get $w)))
        (local.set $c3 (call $load_cols (i32.add (local.get $pc) (i32.mul (local.get $rs) (i32.const 3))) (local.get $w)))))
    (loop $k
      ;; $load_cols written out: a call per step would cost more than the step
      (local.set $b (if (result v128) (i32.eq (local.get $w) (i32.const 4))
        (then (v128.load align=4 (local.get $pb)))
        (else (if (result v128) (i32.eq (local.get $w) (i32.const 1))
          (then (v128.load32_zero align=4 (local.get $pb)))
          (else (if (result v128) (i32.eq (local.get $w) (i32.const 2))
            (then (v128.load64_zero align=4 (local.get $pb)))
            (else (v128.load32_lane offset=8 align=4 2 (local.get $pb) (v128.load64_zero align=4 (local.get $pb))))))))))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load32_splat align=4 (local.get $pa)) (local.get $b))))
      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (v128.load32_splat align=4 (local.get $pa1)) (local.get $b))))
      (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (v128.load32_splat align=4 (local.get $pa2)) (local.get $b))))
      (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (v128.load32_splat align=4 (local.get $pa3)) (local.get $b))))
      (local.set $pb (i32.add (local.get $pb) (local.get $rs)))
      (local.set $pa (i32.add (local.get $pa) (local.get $a_step)))
      (local.set $pa1 (i32.add (local.get $pa1) (local.get $a_step)))
      (local.set $pa2 (i32.add (local.get $pa2) (local.get $a_step)))
      (local.set $pa3 (i32.add (local.get $pa3) (local.get $a_step)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (call $store_cols (local.get $pc) (local.get $w) (local.get $c0))
    (call $store_cols (i32.add (local.get $pc) (local.get $rs)) (local.get $w) (local.get $c1))
    (call $store_cols (i32.add (local.get $pc) (i32.shl (local.get $rs) (i32.const 1))) (local.get $w) (local.get $c2))
    (call $store_cols (i32.add (local.get $pc) (i32.mul (local.get $rs) (i32.const 3))) (local.get $w) (local.get $c3)))

  ;; Either layout, 1 row × 8 columns: the last M mod 4 rows. A[0, k] is at $pa + k·$a_step.
  (func $any_1x8 (param $pa i32) (param $a_step i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $kc i32) (param $accumulate i32)
    (local $c0 v128) (local $c1 v128) (local $a v128)
    (if (local.get $accumulate)
      (then
        (local.set $c0 (v128.load align=4 (local.get $pc)))
        (local.set $c1 (v128.load offset=16 align=4 (local.get $pc)))))
    (loop $k
      (local.set $a (v128.load32_splat align=4 (local.get $pa)))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $a) (v128.load align=4 (local.get $pb)))))
      (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $a) (v128.load offset=16 align=4 (local.get $pb)))))
      (local.set $pb (i32.add (local.get $pb) (local.get $rs)))
      (local.set $pa (i32.add (local.get $pa) (local.get $a_step)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store align=4 (local.get $pc) (local.get $c0))
    (v128.store offset=16 align=4 (local.get $pc) (local.get $c1)))

  ;; Either layout, 1 row × $w (1–4) columns: the bottom-right corner.
  (func $any_1xw (param $pa i32) (param $a_step i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $kc i32) (param $accumulate i32) (param $w i32)
    (local $c0 v128) (local $b v128)
    (if (local.get $accumulate)
      (then (local.set $c0 (call $load_cols (local.get $pc) (local.get $w)))))
    (loop $k
      ;; $load_cols written out, as in $any_4xw
      (local.set $b (if (result v128) (i32.eq (local.get $w) (i32.const 4))
        (then (v128.load align=4 (local.get $pb)))
        (else (if (result v128) (i32.eq (local.get $w) (i32.const 1))
          (then (v128.load32_zero align=4 (local.get $pb)))
          (else (if (result v128) (i32.eq (local.get $w) (i32.const 2))
            (then (v128.load64_zero align=4 (local.get $pb)))
            (else (v128.load32_lane offset=8 align=4 2 (local.get $pb) (v128.load64_zero align=4 (local.get $pb))))))))))
      (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load32_splat align=4 (local.get $pa)) (local.get $b))))
      (local.set $pb (i32.add (local.get $pb) (local.get $rs)))
      (local.set $pa (i32.add (local.get $pa) (local.get $a_step)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (call $store_cols (local.get $pc) (local.get $w) (local.get $c0)))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; One M×K by K×N product with B row-major (K×N). A[i, k] is at $pa + i·$a_rs + k·$a_step: NN passes (4K, 4),
  ;; TN passes (4, 4M); $ta picks the matching 4×8 kernel. $m, $k, $n >= 1.
  (func $gemm (param $pa i32) (param $a_rs i32) (param $a_step i32) (param $ta i32) (param $pb i32) (param $pc i32)
              (param $m i32) (param $k i32) (param $n i32)
    (local $rs i32) (local $k0 i32) (local $kc i32) (local $accumulate i32) (local $pak i32) (local $pbk i32)
    (local $j0 i32) (local $jend i32) (local $i i32) (local $j i32) (local $pai i32) (local $pci i32) (local $w i32)
    (local.set $rs (i32.shl (local.get $n) (i32.const 2)))
    (loop $kchunks
      (local.set $kc (i32.sub (local.get $k) (local.get $k0)))
      (if (i32.gt_u (local.get $kc) (i32.const 256)) (then (local.set $kc (i32.const 256))))
      (local.set $accumulate (i32.ne (local.get $k0) (i32.const 0)))
      (local.set $pak (i32.add (local.get $pa) (i32.mul (local.get $k0) (local.get $a_step))))
      (local.set $pbk (i32.add (local.get $pb) (i32.mul (local.get $k0) (local.get $rs))))
      (local.set $j0 (i32.const 0))
      (loop $nchunks
        (local.set $jend (i32.add (local.get $j0) (i32.const 256)))
        (if (i32.gt_u (local.get $jend) (local.get $n)) (then (local.set $jend (local.get $n))))
        ;; rows four at a time
        (local.set $i (i32.const 0))
        (block $rows4_done
          (loop $rows4
            (br_if $rows4_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
            (local.set $pai (i32.add (local.get $pak) (i32.mul (local.get $i) (local.get $a_rs))))
            (local.set $pci (i32.add (local.get $pc) (i32.mul (local.get $i) (local.get $rs))))
            (local.set $j (local.get $j0))
            (block $cols8_done
              (loop $cols8
                (br_if $cols8_done (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $jend)))
                (if (local.get $ta)
                  (then (call $tn_4x8 (local.get $pai) (local.get $a_step)
                          (i32.add (local.get $pbk) (i32.shl (local.get $j) (i32.const 2)))
                          (i32.add (local.get $pci) (i32.shl (local.get $j) (i32.const 2)))
                          (local.get $rs) (local.get $kc) (local.get $accumulate)))
                  (else (call $nn_4x8 (local.get $pai) (local.get $a_rs)
                          (i32.add (local.get $pbk) (i32.shl (local.get $j) (i32.const 2)))
                          (i32.add (local.get $pci) (i32.shl (local.get $j) (i32.const 2)))
                          (local.get $rs) (local.get $kc) (local.get $accumulate))))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $cols8)))
            (block $colsw_done
              (loop $colsw
                (br_if $colsw_done (i32.ge_u (local.get $j) (local.get $jend)))
                (local.set $w (i32.sub (local.get $jend) (local.get $j)))
                (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
                (call $any_4xw (local.get $pai) (local.get $a_rs) (local.get $a_step)
                  (i32.add (local.get $pbk) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add (local.get $pci) (i32.shl (local.get $j) (i32.const 2)))
                  (local.get $rs) (local.get $kc) (local.get $accumulate) (local.get $w))
                (local.set $j (i32.add (local.get $j) (local.get $w)))
                (br $colsw)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $rows4)))
        ;; the last M mod 4 rows one at a time
        (block $rows1_done
          (loop $rows1
            (br_if $rows1_done (i32.ge_u (local.get $i) (local.get $m)))
            (local.set $pai (i32.add (local.get $pak) (i32.mul (local.get $i) (local.get $a_rs))))
            (local.set $pci (i32.add (local.get $pc) (i32.mul (local.get $i) (local.get $rs))))
            (local.set $j (local.get $j0))
            (block $cols8_done
              (loop $cols8
                (br_if $cols8_done (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $jend)))
                (call $any_1x8 (local.get $pai) (local.get $a_step)
                  (i32.add (local.get $pbk) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add (local.get $pci) (i32.shl (local.get $j) (i32.const 2)))
                  (local.get $rs) (local.get $kc) (local.get $accumulate))
                (local.set $j (i32.add (local.get $j) (i32.const 8)))
                (br $cols8)))
            (block $colsw_done
              (loop $colsw
                (br_if $colsw_done (i32.ge_u (local.get $j) (local.get $jend)))
                (local.set $w (i32.sub (local.get $jend) (local.get $j)))
                (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
                (call $any_1xw (local.get $pai) (local.get $a_step)
                  (i32.add (local.get $pbk) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add (local.get $pci) (i32.shl (local.get $j) (i32.const 2)))
                  (local.get $rs) (local.get $kc) (local.get $accumulate) (local.get $w))
                (local.set $j (i32.add (local.get $j) (local.get $w)))
                (br $colsw)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rows1)))
        (local.set $j0 (local.get $jend))
        (br_if $nchunks (i32.lt_u (local.get $j0) (local.get $n))))
      (local.set $k0 (i32.add (local.get $k0) (local.get $kc)))
      (br_if $kchunks (i32.lt_u (local.get $k0) (local.get $k)))))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; NT: C[0..2, 0..4) = A[0..2, :] · B[0..4, :]ᵀ with A and B rows $rs bytes apart (both K long), C rows $c_rs apart.
  (func $dot_2x4 (param $pa i32) (param $pb i32) (param $pc i32) (param $rs i32) (param $c_rs i32) (param $k i32)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local $a0 v128) (local $a1 v128) (local $b v128) (local $s01 v128) (local $s23 v128)
    (local $pa1 i32) (local $pb1 i32) (local $pb2 i32) (local $pb3 i32) (local $steps i32) (local $rest i32)
    (local.set $pa1 (i32.add (local.get $pa) (local.get $rs)))
    (local.set $pb1 (i32.add (local.get $pb) (local.get $rs)))
    (local.set $pb2 (i32.add (local.get $pb1) (local.get $rs)))
    (local.set $pb3 (i32.add (local.get $pb2) (local.get $rs)))
    (local.set $steps (i32.shr_u (local.get $k) (i32.const 2)))
    (if (local.get $steps)
      (then
        (loop $k4
          (local.set $a0 (v128.load align=4 (local.get $pa)))
          (local.set $a1 (v128.load align=4 (local.get $pa1)))
          (local.set $b (v128.load align=4 (local.get $pb)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $b))))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a1) (local.get $b))))
          (local.set $b (v128.load align=4 (local.get $pb1)))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a0) (local.get $b))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a1) (local.get $b))))
          (local.set $b (v128.load align=4 (local.get $pb2)))
          (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $a0) (local.get $b))))
          (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $a1) (local.get $b))))
          (local.set $b (v128.load align=4 (local.get $pb3)))
          (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $a0) (local.get $b))))
          (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $a1) (local.get $b))))
          (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
          (local.set $pa1 (i32.add (local.get $pa1) (i32.const 16)))
          (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
          (local.set $pb1 (i32.add (local.get $pb1) (i32.const 16)))
          (local.set $pb2 (i32.add (local.get $pb2) (i32.const 16)))
          (local.set $pb3 (i32.add (local.get $pb3) (i32.const 16)))
          (br_if $k4 (local.tee $steps (i32.sub (local.get $steps) (i32.const 1)))))))
    ;; the last K mod 4 products, with the lanes past K zero in both operands
    (local.set $rest (i32.and (local.get $k) (i32.const 3)))
    (if (local.get $rest)
      (then
        (local.set $a0 (call $load_cols (local.get $pa) (local.get $rest)))
        (local.set $a1 (call $load_cols (local.get $pa1) (local.get $rest)))
        (local.set $b (call $load_cols (local.get $pb) (local.get $rest)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $a0) (local.get $b))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $a1) (local.get $b))))
        (local.set $b (call $load_cols (local.get $pb1) (local.get $rest)))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $a0) (local.get $b))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $a1) (local.get $b))))
        (local.set $b (call $load_cols (local.get $pb2) (local.get $rest)))
        (local.set $c02 (f32x4.add (local.get $c02) (f32x4.mul (local.get $a0) (local.get $b))))
        (local.set $c12 (f32x4.add (local.get $c12) (f32x4.mul (local.get $a1) (local.get $b))))
        (local.set $b (call $load_cols (local.get $pb3) (local.get $rest)))
        (local.set $c03 (f32x4.add (local.get $c03) (f32x4.mul (local.get $a0) (local.get $b))))
        (local.set $c13 (f32x4.add (local.get $c13) (f32x4.mul (local.get $a1) (local.get $b))))))
    ;; [Σc0, Σc1, Σc2, Σc3]: interleave pairs (x0 y0 x1 y1 + x2 y2 x3 y3), then add the two halves of the pairs
    (local.set $s01 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c00) (local.get $c01))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c00) (local.get $c01))))
    (local.set $s23 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c02) (local.get $c03))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c02) (local.get $c03))))
    (v128.store align=4 (local.get $pc) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s01) (local.get $s23))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s01) (local.get $s23))))
    (local.set $s01 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c10) (local.get $c11))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c10) (local.get $c11))))
    (local.set $s23 (f32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c12) (local.get $c13))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c12) (local.get $c13))))
    (v128.store align=4 (i32.add (local.get $pc) (local.get $c_rs)) (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $s01) (local.get $s23))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $s01) (local.get $s23)))))

  ;; One M×K by (N×K)ᵀ product by 2×4 dot tiles; needs M >= 2 and N >= 4. The last row pair and the last column
  ;; quad start early when M or N is not a multiple, overlapping (and rewriting identically) their neighbours.
  ;; Columns go in blocks of 64 so the 64 rows of B in use stay in cache while every row pair of A passes by.
  (func $gemm_nt_dot (param $pa i32) (param $pb i32) (param $pc i32) (param $m i32) (param $k i32) (param $n i32)
    (local $rs i32) (local $c_rs i32) (local $j0 i32) (local $jend i32) (local $i i32) (local $j i32) (local $ii i32) (local $jj i32)
    (local.set $rs (i32.shl (local.get $k) (i32.const 2)))
    (local.set $c_rs (i32.shl (local.get $n) (i32.const 2)))
    (loop $nchunks
      (local.set $jend (i32.add (local.get $j0) (i32.const 64)))
      (if (i32.gt_u (local.get $jend) (local.get $n)) (then (local.set $jend (local.get $n))))
      (local.set $i (i32.const 0))
      (loop $rows
        (local.set $ii (local.get $i))
        (if (i32.gt_u (i32.add (local.get $ii) (i32.const 2)) (local.get $m)) (then (local.set $ii (i32.sub (local.get $m) (i32.const 2)))))
        (local.set $j (local.get $j0))
        (loop $cols
          (local.set $jj (local.get $j))
          (if (i32.gt_u (i32.add (local.get $jj) (i32.const 4)) (local.get $n)) (then (local.set $jj (i32.sub (local.get $n) (i32.const 4)))))
          (call $dot_2x4
            (i32.add (local.get $pa) (i32.mul (local.get $ii) (local.get $rs)))
            (i32.add (local.get $pb) (i32.mul (local.get $jj) (local.get $rs)))
            (i32.add (local.get $pc) (i32.add (i32.mul (local.get $ii) (local.get $c_rs)) (i32.shl (local.get $jj) (i32.const 2))))
            (local.get $rs) (local.get $c_rs) (local.get $k))
          (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $jend))))
        (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $m))))
      (br_if $nchunks (i32.lt_u (local.tee $j0 (local.get $jend)) (local.get $n)))))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; dst (cols×rows) = srcᵀ (src rows×cols): 4×4 blocks through registers, then the ragged right and bottom edges.
  (func $transpose (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $rows4 i32) (local $cols4 i32) (local $src_rs i32) (local $dst_rs i32)
    (local $ps i32) (local $pd i32) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $src_rs (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $dst_rs (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (block $blocks_done
      (loop $block_rows
        (br_if $blocks_done (i32.ge_u (local.get $r) (local.get $rows4)))
        (local.set $c (i32.const 0))
        (block $row_done
          (loop $block_cols
            (br_if $row_done (i32.ge_u (local.get $c) (local.get $cols4)))
            (local.set $ps (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
            (local.set $x0 (v128.load align=4 (local.get $ps)))
            (local.set $x1 (v128.load align=4 (local.tee $ps (i32.add (local.get $ps) (local.get $src_rs)))))
            (local.set $x2 (v128.load align=4 (local.tee $ps (i32.add (local.get $ps) (local.get $src_rs)))))
            (local.set $x3 (v128.load align=4 (local.tee $ps (i32.add (local.get $ps) (local.get $src_rs)))))
            ;; t0 = x0[0] x1[0] x0[1] x1[1], t1 = x0[2] x1[2] x0[3] x1[3], t2 and t3 likewise from x2, x3
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
            (local.set $pd (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
            (v128.store align=4 (local.get $pd)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store align=4 (local.tee $pd (i32.add (local.get $pd) (local.get $dst_rs)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store align=4 (local.tee $pd (i32.add (local.get $pd) (local.get $dst_rs)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store align=4 (local.tee $pd (i32.add (local.get $pd) (local.get $dst_rs)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $block_cols)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $block_rows)))
    (call $transpose_scalar (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (i32.const 0) (local.get $rows4) (local.get $cols4))
    (call $transpose_scalar (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (local.get $rows4) (local.get $rows) (i32.const 0)))

  ;; The part of the transpose with source rows [$r0, $r1) and columns [$c0, cols), one float at a time.
  (func $transpose_scalar (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32) (param $r0 i32) (param $r1 i32) (param $c0 i32)
    (local $r i32) (local $c i32)
    (local.set $r (local.get $r0))
    (block $done
      (loop $rows_loop
        (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
        (local.set $c (local.get $c0))
        (block $row_done
          (loop $cols_loop
            (br_if $row_done (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cols_loop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop))))

  ;; ---------------------------------------------------------------------------------------------------------------
  ;; Whether a product is done by dot tiles straight from both operands (NT, K <= 512, M >= 2, N >= 4); beyond 512
  ;; a tile's rows of B outgrow the cache and the transposed-B path is faster.
  (func $uses_dot_tiles (param $m i32) (param $k i32) (param $n i32) (param $ta i32) (param $tb i32) (result i32)
    (i32.and
      (i32.and (local.get $tb) (i32.eqz (local.get $ta)))
      (i32.and (i32.le_u (local.get $k) (i32.const 512))
        (i32.and (i32.ge_u (local.get $m) (i32.const 2)) (i32.ge_u (local.get $n) (i32.const 4))))))

  ;; Bytes of scratch batch_matmul needs for these dimensions: room for one transposed B (K×N) when it transposes B.
  (func (export "scratch_bytes") (param $m i32) (param $k i32) (param $n i32) (param $ta i32) (param $tb i32) (result i32)
    (if (result i32)
      (i32.and (local.get $tb) (i32.eqz (call $uses_dot_tiles (local.get $m) (local.get $k) (local.get $n) (local.get $ta) (local.get $tb))))
      (then (i32.shl (i32.mul (local.get $k) (local.get $n)) (i32.const 2)))
      (else (i32.const 0))))

  ;; C[b] = op(A[b]) · op(B[b]) for b < $batch, where op(A) is M×K and op(B) is K×N:
  ;;   A[b] is stored M×K, or K×M when $ta;  B[b] is stored K×N, or N×K when $tb;  C[b] is M×N.
  ;; $scratch: scratch_bytes(M, K, N, ta, tb) bytes the caller owns (any value when that is 0).
  (func (export "batch_matmul") (param $pa i32) (param $pb i32) (param $pc i32) (param $scratch i32)
                                (param $batch i32) (param $m i32) (param $k i32) (param $n i32) (param $ta i32) (param $tb i32)
    (local $a_rs i32) (local $a_step i32) (local $dot i32) (local $pb_rows i32)
    (if (i32.or (i32.eqz (local.get $batch)) (i32.or (i32.eqz (local.get $m)) (i32.eqz (local.get $n))))
      (then (return)))
    ;; an empty sum: C is all zeros (the output buffer comes from malloc and holds whatever was there)
    (if (i32.eqz (local.get $k))
      (then
        (memory.fill (local.get $pc) (i32.const 0)
          (i32.shl (i32.mul (local.get $batch) (i32.mul (local.get $m) (local.get $n))) (i32.const 2)))
        (return)))
    (if (local.get $ta)
      (then (local.set $a_rs (i32.const 4)) (local.set $a_step (i32.shl (local.get $m) (i32.const 2))))
      (else (local.set $a_rs (i32.shl (local.get $k) (i32.const 2))) (local.set $a_step (i32.const 4))))
    (local.set $dot (call $uses_dot_tiles (local.get $m) (local.get $k) (local.get $n) (local.get $ta) (local.get $tb)))
    (loop $batches
      (if (local.get $dot)
        (then (call $gemm_nt_dot (local.get $pa) (local.get $pb) (local.get $pc) (local.get $m) (local.get $k) (local.get $n)))
        (else
          (local.set $pb_rows (local.get $pb))
          (if (local.get $tb)
            (then
              (call $transpose (local.get $pb) (local.get $scratch) (local.get $n) (local.get $k))
              (local.set $pb_rows (local.get $scratch))))
          (call $gemm (local.get $pa) (local.get $a_rs) (local.get $a_step) (local.get $ta) (local.get $pb_rows) (local.get $pc)
            (local.get $m) (local.get $k) (local.get $n))))
      (local.set $pa (i32.add (local.get $pa) (i32.shl (i32.mul (local.get $m) (local.get $k)) (i32.const 2))))
      (local.set $pb (i32.add (local.get $pb) (i32.shl (i32.mul (local.get $k) (local.get $n)) (i32.const 2))))
      (local.set $pc (i32.add (local.get $pc) (i32.shl (i32.mul (local.get $m) (local.get $n)) (i32.const 2))))
      (br_if $batches (local.tee $batch (i32.sub (local.get $batch) (i32.const 1)))))))
