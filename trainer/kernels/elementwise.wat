;; Fused forward and backward passes of exact GELU and of LayerNorm in 128-bit wasm SIMD, on tfjs's wasm heap.
;;
;; Assembled by scripts/build-wasm-kernels.ts into trainer/kernels/elementwise_wasm.ts (test/kernels checks they
;; agree). Standard SIMD only. Each pass reads its inputs once and writes its outputs once, where tfjs runs a chain
;; of 6–15 kernels each reading and writing whole tensors; the backward passes recompute what they need from the
;; forward's input (GELU's Φ(x), LayerNorm's x̂) rather than keeping it.
;;
;; Pointers are byte offsets into the imported memory; float32 arrays, row-major, 4-byte aligned.
(module
  (import "env" "memory" (memory 1))

  ;; e^x for every lane, relative error < 2e-7 (Cephes expf): x = n·ln2 + r with |r| <= ln2/2, e^r by a degree-7
  ;; polynomial, 2^n put into the exponent bits. Lanes below −87 give 0, above 88 give 2^127·e^r (no overflow to inf
  ;; is needed here: GELU and LayerNorm only take e^x of x <= 0).
  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $t v128)
    (local.set $x (f32x4.max (f32x4.min (local.get $x) (v128.const f32x4 88 88 88 88))
                             (v128.const f32x4 -87 -87 -87 -87)))
    ;; n = round(x·log2 e) by adding and subtracting 1.5·2^23, which leaves n in the low bits of $t
    (local.set $t (f32x4.add (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
                             (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $n (f32x4.sub (local.get $t) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n)
      (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n)
      (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    ;; e^r = 1 + r + r²·p
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $r) (local.get $r)) (local.get $p))
      (local.get $r))
                             (v128.const f32x4 1 1 1 1)))
    ;; 2^n: (n + 127) << 23 as float bits; $t's bits are 0x4B400000 + n, whose high part the shift drops
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (local.get $t) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

  ;; Φ(x), the standard normal CDF, for every lane, with relative error ~1e-7 also deep in the lower tail:
  ;; Φ(x) = ½·erfc(−x/√2), erfc by Numerical Recipes' erfcc (t = 1/(1 + z/2), erfc(z) = t·e^(−z² + P(t)) for z >= 0,
  ;; fractional error < 1.2e-7), reflected for x > 0 as 1 − ½·erfc(|x|/√2).
  (func $phi (param $x v128) (result v128)
    (local $z v128) (local $t v128) (local $p v128) (local $half_erfc v128)
    (local.set $z (f32x4.mul (f32x4.abs (local.get $x)) (v128.const f32x4 0.70710678 0.70710678 0.70710678 0.70710678)))
    (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1)
      (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $z) (v128.const f32x4 0.5 0.5 0.5 0.5)))))
    (local.set $p (v128.const f32x4 0.17087277 0.17087277 0.17087277 0.17087277))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 -0.82215223 -0.82215223 -0.82215223 -0.82215223)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 1.48851587 1.48851587 1.48851587 1.48851587)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 -1.13520398 -1.13520398 -1.13520398 -1.13520398)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 0.27886807 0.27886807 0.27886807 0.27886807)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 -0.18628806 -0.18628806 -0.18628806 -0.18628806)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 0.09678418 0.09678418 0.09678418 0.09678418)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 0.37409196 0.37409196 0.37409196 0.37409196)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 1.00002368 1.00002368 1.00002368 1.00002368)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t))
      (v128.const f32x4 -1.26551223 -1.26551223 -1.26551223 -1.26551223)))
    (local.set $half_erfc (f32x4.mul (f32x4.mul (local.get $t) (v128.const f32x4 0.5 0.5 0.5 0.5))
      (call $exp (f32x4.sub (local.get $p) (f32x4.mul (local.get $z) (local.get $z))))))
    ;; x > 0: 1 − ½erfc(z); otherwise ½erfc(z)
    (v128.bitselect
      (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $half_erfc))
      (local.get $half_erfc)
      (f32x4.gt (local.get $x) (v128.const f32x4 0 0 0 0))))

  ;; Loads the last 1–3 floats of an array into a zeroed vector, and stores them back, touching nothing past them.
  (func $load_tail (param $p i32) (param $w i32) (result v128)
    (if (result v128) (i32.eq (local.get $w) (i32.const 1))
      (then (v128.load32_zero align=4 (local.get $p)))
      (else (if (result v128) (i32.eq (local.get $w) (i32.const 2))
        (then (v128.load64_zero align=4 (local.get $p)))
        (else (v128.load32_lane offset=8 align=4 2 (local.get $p) (v128.load64_zero align=4 (local.get $p))))))))

  (func $store_tail (param $p i32) (param $w i32) (param $v v128)
    (if (i32.eq (local.get $w) (i32.const 1))
      (then (v128.store32_lane align=4 0 (local.get $p) (local.get $v)) (return)))
    (v128.store64_lane align=4 0 (local.get $p) (local.get $v))
    (if (i32.eq (local.get $w) (i32.const 3))
      (then (v128.store32_lane offset=8 align=4 2 (local.get $p) (local.get $v)))))

  ;; y = x·Φ(x) for `count` floats.
  (func (export "gelu_forward") (param $px i32) (param $py i32) (param $count i32)
    (local $x v128) (local $left i32)
    (local.set $left (local.get $count))
    (block $done
      (loop $vec
        (br_if $done (i32.lt_u (local.get $left) (i32.const 4)))
        (local.set $x (v128.load align=4 (local.get $px)))
        (v128.store align=4 (local.get $py) (f32x4.mul (local.get $x) (call $phi (local.get $x))))
        (local.set $px (i32.add (local.get $px) (i32.const 16)))
        (local.set $py (i32.add (local.get $py) (i32.const 16)))
        (local.set $left (i32.sub (local.get $left) (i32.const 4)))
        (br $vec)))
    (if (local.get $left)
      (then
        (local.set $x (call $load_tail (local.get $px) (local.get $left)))
        (call $store_tail (local.get $py) (local.get $left) (f32x4.mul (local.get $x) (call $phi (local.get $x)))))))

  ;; dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π), for `count` floats.
  (func $gelu_grad (param $x v128) (param $dy v128) (result v128)
    (f32x4.mul (local.get $dy)
      (f32x4.add (call $phi (local.get $x))
        (f32x4.mul (f32x4.mul (local.get $x) (v128.const f32x4 0.39894228 0.39894228 0.39894228 0.39894228))
          (call $exp (f32x4.mul (f32x4.mul (local.get $x) (local.get $x)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5)))))))

  (func (export "gelu_backward") (param $px i32) (param $pdy i32) (param $pdx i32) (param $count i32)
    (local $left i32)
    (local.set $left (local.get $count))
    (block $done
      (loop $vec
        (br_if $done (i32.lt_u (local.get $left) (i32.const 4)))
        (v128.store align=4 (local.get $pdx)
          (call $gelu_grad (v128.load align=4 (local.get $px)) (v128.load align=4 (local.get $pdy))))
        (local.set $px (i32.add (local.get $px) (i32.const 16)))
        (local.set $pdy (i32.add (local.get $pdy) (i32.const 16)))
        (local.set $pdx (i32.add (local.get $pdx) (i32.const 16)))
        (local.set $left (i32.sub (local.get $left) (i32.const 4)))
        (br $vec)))
    (if (local.get $left)
      (then
        (call $store_tail (local.get $pdx) (local.get $left)
          (call $gelu_grad (call $load_tail (local.get $px) (local.get $left))
                           (call $load_tail (local.get $pdy) (local.get $left)))))))

  ;; Σ of a row's `cols` floats: four lanes of partial sums along the row, then lane 0 + 1 + 2 + 3.
  (func $row_sum (param $p i32) (param $cols i32) (result f32)
    (local $acc v128) (local $left i32)
    (local.set $left (local.get $cols))
    (block $done
      (loop $vec
        (br_if $done (i32.lt_u (local.get $left) (i32.const 4)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load align=4 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $left (i32.sub (local.get $left) (i32.const 4)))
        (br $vec)))
    (if (local.get $left) (then (local.set $acc (f32x4.add (local.get $acc) (call $load_tail (local.get $p)
      (local.get $left))))))
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
             (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))

  ;; LayerNorm over each of `rows` rows of `cols`: y = (x − μ)·rstd·γ + β with rstd = 1/√(var + eps), the biased
  ;; variance from a second pass over x − μ (as PyTorch). Writes μ and rstd per row (for the backward) when $pstats
  ;; is non-zero: stats[2r] = μ, stats[2r + 1] = rstd. γ = β = 0 pointers mean no affine (y = x̂).
  (func (export "layer_norm_forward") (param $px i32) (param $pgamma i32) (param $pbeta i32) (param $py i32)
        (param $pstats i32) (param $rows i32) (param $cols i32) (param $eps f32)
    (local $mean f32) (local $rstd f32) (local $vmean v128) (local $vrstd v128) (local $acc v128) (local $d v128)
    (local $j i32) (local $w i32) (local $ldx i32) (local $r i32)
    (local.set $ldx (i32.shl (local.get $cols) (i32.const 2)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $mean (f32.div (call $row_sum (local.get $px) (local.get $cols)) (f32.convert_i32_u
          (local.get $cols))))
        (local.set $vmean (f32x4.splat (local.get $mean)))
        ;; Σ (x − μ)², lanes as in $row_sum; the tail's zero lanes must not add μ², so they are masked.
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $var_done
          (loop $var
            (br_if $var_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $cols)))
            (local.set $d (f32x4.sub (v128.load align=4 (i32.add (local.get $px) (i32.shl (local.get $j)
              (i32.const 2))))
                                     (local.get $vmean)))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $var)))
        (local.set $w (i32.sub (local.get $cols) (local.get $j)))
        (if (local.get $w)
          (then
            (local.set $d (f32x4.sub (call $load_tail (i32.add (local.get $px) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $w))
                                     (local.get $vmean)))
            (local.set $d (v128.and (local.get $d) (call $tail_mask (local.get $w))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))))
        (local.set $rstd (f32.div (f32.const 1)
          (f32.sqrt (f32.add (f32.div
            (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                     (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))
            (f32.convert_i32_u (local.get $cols))) (local.get $eps)))))
        (local.set $vrstd (f32x4.splat (local.get $rstd)))
        (if (local.get $pstats)
          (then
            (f32.store (i32.add (local.get $pstats) (i32.shl (local.get $r) (i32.const 3))) (local.get $mean))
            (f32.store offset=4 (i32.add (local.get $pstats) (i32.shl (local.get $r) (i32.const 3)))
              (local.get $rstd))))
        (local.set $j (i32.const 0))
        (block $out_done
          (loop $out
            (br_if $out_done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $w (i32.sub (local.get $cols) (local.get $j)))
            (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
            (local.set $d (f32x4.mul (f32x4.sub (call $load_any (i32.add (local.get $px) (i32.shl (local.get $j)
              (i32.const 2))) (local.get $w))
                                                (local.get $vmean)) (local.get $vrstd)))
            (if (local.get $pgamma)
              (then
                (local.set $d (f32x4.add
                  (f32x4.mul (local.get $d) (call $load_any (i32.add (local.get $pgamma) (i32.shl (local.get $j)
                    (i32.const 2))) (local.get $w)))
                  (call $load_any (i32.add (local.get $pbeta) (i32.shl (local.get $j) (i32.const 2)))
                    (local.get $w))))))
            (call $store_any (i32.add (local.get $py) (i32.shl (local.get $j) (i32.const 2))) (local.get $w)
              (local.get $d))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $out)))
        (local.set $px (i32.add (local.get $px) (local.get $ldx)))
        (local.set $py (i32.add (local.get $py) (local.get $ldx)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; All ones in the first $w lanes (1–3), zeros after.
  (func $tail_mask (param $w i32) (result v128)
    (if (result v128) (i32.eq (local.get $w) (i32.const 1))
      (then (v128.const i32x4 -1 0 0 0))
      (else (if (result v128) (i32.eq (local.get $w) (i32.const 2))
        (then (v128.const i32x4 -1 -1 0 0))
        (else (v128.const i32x4 -1 -1 -1 0))))))

  (func $load_any (param $p i32) (param $w i32) (result v128)
    (if (result v128) (i32.eq (local.get $w) (i32.const 4))
      (then (v128.load align=4 (local.get $p)))
      (else (call $load_tail (local.get $p) (local.get $w)))))

  (func $store_any (param $p i32) (param $w i32) (param $v v128)
    (if (i32.eq (local.get $w) (i32.const 4))
      (then (v128.store align=4 (local.get $p) (local.get $v)))
      (else (call $store_tail (local.get $p) (local.get $w) (local.get $v)))))

  ;; LayerNorm's backward from x, γ, dy and the forward's stats: x̂ = (x − μ)·rstd, g = dy·γ,
  ;; dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dγ = Σ_rows dy·x̂, dβ = Σ_rows dy. dγ and dβ are summed over blocks of
  ;; 64 rows in $scratch (2·cols floats) and the blocks added in order, as column_sums does.
  (func (export "layer_norm_backward") (param $px i32) (param $pgamma i32) (param $pdy i32) (param $pstats i32)
        (param $pdx i32) (param $pdgamma i32) (param $pdbeta i32) (param $pscratch i32) (param $rows i32)
          (param $cols i32)
    (local $r i32) (local $j i32) (local $w i32) (local $ldx i32) (local $off i32)
    (local $vmean v128) (local $vrstd v128) (local $xh v128) (local $g v128) (local $dy v128)
    (local $sg v128) (local $sgx v128) (local $mg v128) (local $mgx v128) (local $inv_cols f32)
    (local $pbg i32) (local $pbb i32)
    (local.set $ldx (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $inv_cols (f32.div (f32.const 1) (f32.convert_i32_u (local.get $cols))))
    (local.set $pbg (local.get $pscratch))
    (local.set $pbb (i32.add (local.get $pscratch) (local.get $ldx)))
    (memory.fill (local.get $pdgamma) (i32.const 0) (local.get $ldx))
    (memory.fill (local.get $pdbeta) (i32.const 0) (local.get $ldx))
    (memory.fill (local.get $pscratch) (i32.const 0) (i32.shl (local.get $ldx) (i32.const 1)))
    (block $rows_done
      (loop $row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $vmean (v128.load32_splat align=4 (i32.add (local.get $pstats) (i32.shl (local.get $r)
          (i32.const 3)))))
        (local.set $vrstd (v128.load32_splat offset=4 align=4 (i32.add (local.get $pstats) (i32.shl (local.get $r)
          (i32.const 3)))))
        ;; pass 1: Σ g and Σ g·x̂ along the row; the block sums of dy·x̂ and dy
        (local.set $sg (v128.const i32x4 0 0 0 0))
        (local.set $sgx (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $p1_done
          (loop $p1
            (br_if $p1_done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $w (i32.sub (local.get $cols) (local.get $j)))
            (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $xh (f32x4.mul (f32x4.sub (call $load_any (i32.add (local.get $px) (local.get $off))
              (local.get $w)) (local.get $vmean)) (local.get $vrstd)))
            (if (i32.lt_u (local.get $w) (i32.const 4)) (then (local.set $xh (v128.and (local.get $xh)
              (call $tail_mask (local.get $w))))))
            (local.set $dy (call $load_any (i32.add (local.get $pdy) (local.get $off)) (local.get $w)))
            (local.set $g (f32x4.mul (local.get $dy) (call $load_any (i32.add (local.get $pgamma) (local.get $off))
              (local.get $w))))
            (local.set $sg (f32x4.add (local.get $sg) (local.get $g)))
            (local.set $sgx (f32x4.add (local.get $sgx) (f32x4.mul (local.get $g) (local.get $xh))))
            (call $store_any (i32.add (local.get $pbg) (local.get $off)) (local.get $w)
              (f32x4.add (call $load_any (i32.add (local.get $pbg) (local.get $off)) (local.get $w)) (f32x4.mul
                (local.get $dy) (local.get $xh))))
            (call $store_any (i32.add (local.get $pbb) (local.get $off)) (local.get $w)
              (f32x4.add (call $load_any (i32.add (local.get $pbb) (local.get $off)) (local.get $w)) (local.get $dy)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $p1)))
        (local.set $mg (f32x4.splat (f32.mul (local.get $inv_cols)
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sg)) (f32x4.extract_lane 1 (local.get $sg)))
                   (f32.add (f32x4.extract_lane 2 (local.get $sg)) (f32x4.extract_lane 3 (local.get $sg)))))))
        (local.set $mgx (f32x4.splat (f32.mul (local.get $inv_cols)
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sgx)) (f32x4.extract_lane 1 (local.get $sgx)))
                   (f32.add (f32x4.extract_lane 2 (local.get $sgx)) (f32x4.extract_lane 3 (local.get $sgx)))))))
        ;; pass 2: dx
        (local.set $j (i32.const 0))
        (block $p2_done
          (loop $p2
            (br_if $p2_done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $w (i32.sub (local.get $cols) (local.get $j)))
            (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
            (local.set $off (i32.shl (local.get $j) (i32.const 2)))
            (local.set $xh (f32x4.mul (f32x4.sub (call $load_any (i32.add (local.get $px) (local.get $off))
              (local.get $w)) (local.get $vmean)) (local.get $vrstd)))
            (local.set $g (f32x4.mul (call $load_any (i32.add (local.get $pdy) (local.get $off)) (local.get $w))
                                     (call $load_any (i32.add (local.get $pgamma) (local.get $off)) (local.get $w))))
            (call $store_any (i32.add (local.get $pdx) (local.get $off)) (local.get $w)
              (f32x4.mul (local.get $vrstd)
                (f32x4.sub (f32x4.sub (local.get $g) (local.get $mg)) (f32x4.mul (local.get $xh) (local.get $mgx)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $p2)))
        (local.set $px (i32.add (local.get $px) (local.get $ldx)))
        (local.set $pdy (i32.add (local.get $pdy) (local.get $ldx)))
        (local.set $pdx (i32.add (local.get $pdx) (local.get $ldx)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        ;; every 64 rows and at the end: fold the block sums into dγ, dβ
        (if (i32.or (i32.eqz (i32.and (local.get $r) (i32.const 63))) (i32.eq (local.get $r) (local.get $rows)))
          (then
            (call $fold (local.get $pbg) (local.get $pdgamma) (local.get $cols))
            (call $fold (local.get $pbb) (local.get $pdbeta) (local.get $cols))))
        (br $row))))

  ;; total[j] += block[j]; block[j] = 0, for j < cols.
  (func $fold (param $pblock i32) (param $ptotal i32) (param $cols i32)
    (local $j i32) (local $w i32) (local $off i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $w (i32.sub (local.get $cols) (local.get $j)))
        (if (i32.gt_u (local.get $w) (i32.const 4)) (then (local.set $w (i32.const 4))))
        (local.set $off (i32.shl (local.get $j) (i32.const 2)))
        (call $store_any (i32.add (local.get $ptotal) (local.get $off)) (local.get $w)
          (f32x4.add (call $load_any (i32.add (local.get $ptotal) (local.get $off)) (local.get $w))
                     (call $load_any (i32.add (local.get $pblock) (local.get $off)) (local.get $w))))
        (call $store_any (i32.add (local.get $pblock) (local.get $off)) (local.get $w) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l))))
)
