;; Single float32 matrix product C = op(A)·op(B) (+ bias row, or + C) in 128-bit wasm SIMD, on tfjs's wasm heap.
;;
;; Assembled twice by scripts/build-wasm-kernels.ts into trainer/kernels/gemm_wasm.ts: as written (relaxed-SIMD
;; f32x4.relaxed_madd, one fused multiply-add where the CPU has FMA) and with every relaxed_madd rewritten as
;; f32x4.add(f32x4.mul) for runtimes without relaxed SIMD. Both variants sum in the same order, so on one machine
;; and one variant the result is bitwise reproducible; which variant runs (and whether the CPU fuses) can change
;; the last bits across machines.
;;
;; Operands are addressed through byte strides, so every transpose is a choice of strides, not a copy:
;;   A[i, k] at $pa + i·$a_rs + k·$a_cs        B[k, j] at $pb + k·$b_rs + j·$b_cs        C row-major, N columns.
;;
;; The scheme is the classic Goto/BLIS one:
;;   for each block of up to 512 columns of C (NC):
;;     for each chunk of up to 512 of K (KC): pack B's KC×NC block into 8-column strips (k-major, zero-padded)
;;       for each block of up to 128 rows (MC): pack A's MC×KC block into 4-row panels (k-major, zero-padded)
;;         for each 8-column strip (held in L1 while the rows sweep it), for each 4-row panel:
;;           the 4×8 micro-kernel: 8 f32x4 accumulators, per k two B vectors and four broadcast A values. (A 6×8
;;           tile needs 15 live vectors and a 5×8 one 13; V8 spills both, and they ran at 0.4–0.5× the speed of
;;           4×8 here.) A 16 KiB B strip (KC = 512) stays in L1: KC = 256 ran products with K > 256 ~20 % slower.
;; Measured by CPU time per product on config A's shapes (AMD EPYC, Node 20): 44–51 GFLOP/s per core relaxed,
;; 35–40 standard, XNNPACK 29–31; two 128-bit FMAs per cycle make ≈ 50 the ceiling at this clock.
;; The first K chunk starts from zero, the bias row, or C (when accumulating); later chunks add onto C. Tiles at
;; the bottom or right edge run the same micro-kernel on a 4×8 copy in scratch, so every element of C is computed
;; by the same sequence of operations wherever it lies.
(module
  (import "env" "memory" (memory 1))

  ;; 4 rows × 8 columns: C[0..4, 0..8) = init + Σ_k Apanel[k, 0..4] ⊗ Bstrip[k, 0..8].
  ;;   $pa  packed A panel (4 floats per k)     $pb  packed B strip (8 floats per k)     $kc  k steps (>= 1)
  ;;   $pc  C[0, 0], row stride $ldc bytes      $mode  0: init 0, 1: init C, 2: init the bias row at $pbias
  (func $micro_4x8 (param $pa i32) (param $pb i32) (param $kc i32) (param $pc i32) (param $ldc i32)
                   (param $mode i32) (param $pbias i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128)
    (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $a v128)
    (local $pc1 i32) (local $pc2 i32) (local $pc3 i32) 
    (local.set $pc1 (i32.add (local.get $pc) (local.get $ldc)))
    (local.set $pc2 (i32.add (local.get $pc1) (local.get $ldc)))
    (local.set $pc3 (i32.add (local.get $pc2) (local.get $ldc)))
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c00 (v128.load align=4 (local.get $pc)))
        (local.set $c01 (v128.load offset=16 align=4 (local.get $pc)))
        (local.set $c10 (v128.load align=4 (local.get $pc1)))
        (local.set $c11 (v128.load offset=16 align=4 (local.get $pc1)))
        (local.set $c20 (v128.load align=4 (local.get $pc2)))
        (local.set $c21 (v128.load offset=16 align=4 (local.get $pc2)))
        (local.set $c30 (v128.load align=4 (local.get $pc3)))
        (local.set $c31 (v128.load offset=16 align=4 (local.get $pc3)))))
    (if (i32.eq (local.get $mode) (i32.const 2))
      (then
        (local.set $c00 (v128.load align=4 (local.get $pbias)))
        (local.set $c01 (v128.load offset=16 align=4 (local.get $pbias)))
        (local.set $c10 (local.get $c00)) (local.set $c11 (local.get $c01))
        (local.set $c20 (local.get $c00)) (local.set $c21 (local.get $c01))
        (local.set $c30 (local.get $c00)) (local.set $c31 (local.get $c01))))
    (loop $k
      (local.set $b0 (v128.load align=4 (local.get $pb)))
      (local.set $b1 (v128.load offset=16 align=4 (local.get $pb)))
      (local.set $a (v128.load32_splat align=4 (local.get $pa)))
      (local.set $c00 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c00)))
      (local.set $c01 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c01)))
      (local.set $a (v128.load32_splat offset=4 align=4 (local.get $pa)))
      (local.set $c10 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c10)))
      (local.set $c11 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c11)))
      (local.set $a (v128.load32_splat offset=8 align=4 (local.get $pa)))
      (local.set $c20 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c20)))
      (local.set $c21 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c21)))
      (local.set $a (v128.load32_splat offset=12 align=4 (local.get $pa)))
      (local.set $c30 (f32x4.relaxed_madd (local.get $a) (local.get $b0) (local.get $c30)))
      (local.set $c31 (f32x4.relaxed_madd (local.get $a) (local.get $b1) (local.get $c31)))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store align=4 (local.get $pc) (local.get $c00))
    (v128.store offset=16 align=4 (local.get $pc) (local.get $c01))
    (v128.store align=4 (local.get $pc1) (local.get $c10))
    (v128.store offset=16 align=4 (local.get $pc1) (local.get $c11))
    (v128.store align=4 (local.get $pc2) (local.get $c20))
    (v128.store offset=16 align=4 (local.get $pc2) (local.get $c21))
    (v128.store align=4 (local.get $pc3) (local.get $c30))
    (v128.store offset=16 align=4 (local.get $pc3) (local.get $c31)))

  ;; A partial tile (rows < 4 or cols < 8 valid): load its init into the 4×8 tile at $tile (zeros outside the valid
  ;; part), run the micro-kernel on the tile as mode 1, copy the valid part back. Same operations as a full tile.
  (func $edge_tile (param $pa i32) (param $pb i32) (param $kc i32) (param $pc i32) (param $ldc i32)
                   (param $mode i32) (param $pbias i32) (param $tile i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $v f32) (local $t i32) (local $p i32)
    (memory.fill (local.get $tile) (i32.const 0) (i32.const 128))
    (local.set $r (i32.const 0))
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $cols
        (local.set $t (i32.add (local.get $tile) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3))
          (local.get $c)) (i32.const 2))))
        (local.set $p (i32.add (i32.add (local.get $pc) (i32.mul (local.get $r) (local.get $ldc))) (i32.shl
          (local.get $c) (i32.const 2))))
        (if (i32.eq (local.get $mode) (i32.const 1))
          (then (f32.store (local.get $t) (f32.load (local.get $p)))))
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then (f32.store (local.get $t) (f32.load (i32.add (local.get $pbias) (i32.shl (local.get $c)
            (i32.const 2)))))))
        (br_if $cols (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $cols))))
      (br_if $rows (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows))))
    (call $micro_4x8 (local.get $pa) (local.get $pb) (local.get $kc) (local.get $tile) (i32.const 32) (i32.const 1)
      (i32.const 0))
    (local.set $r (i32.const 0))
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $cols
        (f32.store
          (i32.add (i32.add (local.get $pc) (i32.mul (local.get $r) (local.get $ldc))) (i32.shl (local.get $c)
            (i32.const 2)))
          (f32.load (i32.add (local.get $tile) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3))
            (local.get $c)) (i32.const 2)))))
        (br_if $cols (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $cols))))
      (br_if $rows (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $rows)))))

  ;; Packs A[0..mc, 0..kc) (strides $rs, $cs) into ceil(mc/4) panels of kc×4 floats, rows past mc as zeros.
  (func $pack_a (param $src i32) (param $rs i32) (param $cs i32) (param $mc i32) (param $kc i32) (param $dst i32)
    (local $i0 i32) (local $kk i32) (local $r i32) (local $row i32) (local $p i32)
    (loop $panels
      (local.set $r (i32.const 0))
      ;; one row of the panel at a time: reads run along A's k direction, writes stride 16 bytes
      (loop $rows
        (local.set $row (i32.add (local.get $i0) (local.get $r)))
        (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))))
        (if (i32.lt_u (local.get $row) (local.get $mc))
          (then
            (local.set $kk (i32.add (local.get $src) (i32.mul (local.get $row) (local.get $rs))))
            (local.set $row (local.get $kc))
            (loop $ks
              (f32.store (local.get $p) (f32.load (local.get $kk)))
              (local.set $kk (i32.add (local.get $kk) (local.get $cs)))
              (local.set $p (i32.add (local.get $p) (i32.const 16)))
              (br_if $ks (local.tee $row (i32.sub (local.get $row) (i32.const 1))))))
          (else
            (local.set $row (local.get $kc))
            (loop $zs
              (f32.store (local.get $p) (f32.const 0))
              (local.set $p (i32.add (local.get $p) (i32.const 16)))
              (br_if $zs (local.tee $row (i32.sub (local.get $row) (i32.const 1)))))))
        (br_if $rows (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (i32.const 4))))
      (local.set $dst (i32.add (local.get $dst) (i32.mul (local.get $kc) (i32.const 16))))
      (br_if $panels (i32.lt_u (local.tee $i0 (i32.add (local.get $i0) (i32.const 4))) (local.get $mc)))))

  ;; Packs B[0..kc, 0..nc) (strides $rs, $cs) into ceil(nc/8) strips of kc×8 floats, columns past nc as zeros.
  ;; Contiguous rows ($cs = 4) copy two vectors per k; otherwise one column at a time along B's k direction.
  (func $pack_b (param $src i32) (param $rs i32) (param $cs i32) (param $kc i32) (param $nc i32) (param $dst i32)
    (local $j0 i32) (local $c i32) (local $col i32) (local $s i32) (local $p i32) (local $left i32)
    (loop $strips
      (if (i32.and (i32.eq (local.get $cs) (i32.const 4)) (i32.le_u (i32.add (local.get $j0) (i32.const 8))
        (local.get $nc)))
        (then
          (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j0) (i32.const 2))))
          (local.set $p (local.get $dst))
          (local.set $left (local.get $kc))
          (loop $ks
            (v128.store align=4 (local.get $p) (v128.load align=4 (local.get $s)))
            (v128.store offset=16 align=4 (local.get $p) (v128.load offset=16 align=4 (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $rs)))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (br_if $ks (local.tee $left (i32.sub (local.get $left) (i32.const 1))))))
        (else
          (local.set $c (i32.const 0))
          (loop $cols
            (local.set $col (i32.add (local.get $j0) (local.get $c)))
            (local.set $p (i32.add (local.get $dst) (i32.shl (local.get $c) (i32.const 2))))
            (local.set $left (local.get $kc))
            (if (i32.lt_u (local.get $col) (local.get $nc))
              (then
                (local.set $s (i32.add (local.get $src) (i32.mul (local.get $col) (local.get $cs))))
                (loop $ks
                  (f32.store (local.get $p) (f32.load (local.get $s)))
                  (local.set $s (i32.add (local.get $s) (local.get $rs)))
                  (local.set $p (i32.add (local.get $p) (i32.const 32)))
                  (br_if $ks (local.tee $left (i32.sub (local.get $left) (i32.const 1))))))
              (else
                (loop $zs
                  (f32.store (local.get $p) (f32.const 0))
                  (local.set $p (i32.add (local.get $p) (i32.const 32)))
                  (br_if $zs (local.tee $left (i32.sub (local.get $left) (i32.const 1)))))))
            (br_if $cols (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (i32.const 8))))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 5))))
      (br_if $strips (i32.lt_u (local.tee $j0 (i32.add (local.get $j0) (i32.const 8))) (local.get $nc)))))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  (func $round_up (param $a i32) (param $to i32) (result i32)
    (i32.mul (i32.div_u (i32.add (local.get $a) (i32.sub (local.get $to) (i32.const 1))) (local.get $to))
      (local.get $to)))

  ;; Bytes of scratch gemm needs for these dimensions: a 4×8 edge tile, the packed A block and the packed B block.
  (func $scratch_bytes (export "gemm_scratch_bytes") (param $m i32) (param $k i32) (param $n i32) (result i32)
    (i32.add (i32.const 128)
      (i32.shl
        (i32.mul (call $min (local.get $k) (i32.const 512))
          (i32.add (call $min (call $round_up (local.get $m) (i32.const 4)) (i32.const 128))
                   (call $min (call $round_up (local.get $n) (i32.const 8)) (i32.const 512))))
        (i32.const 2))))

  ;; C[m×n] = op(A)·op(B) + (C itself if $accumulate, else the bias row at $pbias if non-zero). m, k, n >= 1; C must not
  ;; overlap A, B or the bias; $scratch holds gemm_scratch_bytes(m, k, n) bytes.
  (func (export "gemm")
        (param $pa i32) (param $a_rs i32) (param $a_cs i32) (param $pb i32) (param $b_rs i32) (param $b_cs i32)
        (param $pc i32) (param $pbias i32) (param $m i32) (param $k i32) (param $n i32) (param $scratch i32)
        (param $accumulate i32)
    (local $ldc i32) (local $tile i32) (local $packa i32) (local $packb i32)
    (local $jc i32) (local $nc i32) (local $p0 i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $ir i32) (local $mode i32) (local $cols i32) (local $rows i32)
    (local $pan i32) (local $strip i32) (local $cp i32) (local $bp i32)
    (local.set $ldc (i32.shl (local.get $n) (i32.const 2)))
    (local.set $tile (local.get $scratch))
    (local.set $packa (i32.add (local.get $scratch) (i32.const 128)))
    (local.set $packb (i32.add (local.get $packa)
      (i32.shl (i32.mul (call $min (local.get $k) (i32.const 512))
                        (call $min (call $round_up (local.get $m) (i32.const 4)) (i32.const 128))) (i32.const 2))))
    (loop $ncs
      (local.set $nc (call $min (i32.sub (local.get $n) (local.get $jc)) (i32.const 512)))
      (local.set $p0 (i32.const 0))
      (loop $kcs
        (local.set $kc (call $min (i32.sub (local.get $k) (local.get $p0)) (i32.const 512)))
        (call $pack_b (i32.add (i32.add (local.get $pb) (i32.mul (local.get $p0) (local.get $b_rs)))
                               (i32.mul (local.get $jc) (local.get $b_cs)))
                      (local.get $b_rs) (local.get $b_cs) (local.get $kc) (local.get $nc) (local.get $packb))
        (local.set $mode
          (if (result i32) (i32.or (i32.ne (local.get $p0) (i32.const 0)) (local.get $accumulate))
            (then (i32.const 1))
            (else (select (i32.const 2) (i32.const 0) (local.get $pbias)))))
        (local.set $ic (i32.const 0))
        (loop $mcs
          (local.set $mc (call $min (i32.sub (local.get $m) (local.get $ic)) (i32.const 128)))
          (call $pack_a (i32.add (i32.add (local.get $pa) (i32.mul (local.get $ic) (local.get $a_rs)))
                                 (i32.mul (local.get $p0) (local.get $a_cs)))
                        (local.get $a_rs) (local.get $a_cs) (local.get $mc) (local.get $kc) (local.get $packa))
          (local.set $jr (i32.const 0))
          (loop $strips
            (local.set $cols (call $min (i32.sub (local.get $nc) (local.get $jr)) (i32.const 8)))
            (local.set $strip (i32.add (local.get $packb) (i32.mul (i32.shr_u (local.get $jr) (i32.const 3))
                                                                   (i32.shl (local.get $kc) (i32.const 5)))))
            (local.set $bp (i32.add (local.get $pbias) (i32.shl (i32.add (local.get $jc) (local.get $jr))
              (i32.const 2))))
            (local.set $ir (i32.const 0))
            (loop $panels
              (local.set $rows (call $min (i32.sub (local.get $mc) (local.get $ir)) (i32.const 4)))
              (local.set $pan (i32.add (local.get $packa) (i32.mul (i32.div_u (local.get $ir) (i32.const 4))
                                                                   (i32.mul (local.get $kc) (i32.const 16)))))
              (local.set $cp (i32.add (local.get $pc)
                (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                         (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2)))))
              (if (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8)))
                (then (call $micro_4x8 (local.get $pan) (local.get $strip) (local.get $kc) (local.get $cp)
                        (local.get $ldc) (local.get $mode) (local.get $bp)))
                (else (call $edge_tile (local.get $pan) (local.get $strip) (local.get $kc) (local.get $cp)
                        (local.get $ldc) (local.get $mode) (local.get $bp) (local.get $tile)
                        (local.get $rows) (local.get $cols))))
              (br_if $panels (i32.lt_u (local.tee $ir (i32.add (local.get $ir) (i32.const 4))) (local.get $mc))))
            (br_if $strips (i32.lt_u (local.tee $jr (i32.add (local.get $jr) (i32.const 8))) (local.get $nc))))
          (br_if $mcs (i32.lt_u (local.tee $ic (i32.add (local.get $ic) (i32.const 128))) (local.get $m))))
        (br_if $kcs (i32.lt_u (local.tee $p0 (i32.add (local.get $p0) (i32.const 512))) (local.get $k))))
      (br_if $ncs (i32.lt_u (local.tee $jc (i32.add (local.get $jc) (i32.const 512))) (local.get $n)))))

  ;; out[j] = Σ_i x[i, j] for x rows×cols row-major (the bias gradient), summed in blocks of 64 rows whose partial
  ;; sums are then added in order, so the rounding error grows with rows/64 + 64 rather than with rows.
  (func (export "column_sums") (param $px i32) (param $rows i32) (param $cols i32) (param $pout i32)
    (local $j i32) (local $i i32) (local $r i32) (local $block v128) (local $total v128) (local $p i32)
    (local $sb f32) (local $st f32) (local $ldx i32)
    (local.set $ldx (i32.shl (local.get $cols) (i32.const 2)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $cols)))
        (local.set $total (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (local.set $p (i32.add (local.get $px) (i32.shl (local.get $j) (i32.const 2))))
        (block $blocks_done
          (loop $blocks
            (br_if $blocks_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $r (call $min (i32.sub (local.get $rows) (local.get $i)) (i32.const 64)))
            (local.set $i (i32.add (local.get $i) (local.get $r)))
            (local.set $block (v128.const i32x4 0 0 0 0))
            (loop $rs
              (local.set $block (f32x4.add (local.get $block) (v128.load align=4 (local.get $p))))
              (local.set $p (i32.add (local.get $p) (local.get $ldx)))
              (br_if $rs (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
            (local.set $total (f32x4.add (local.get $total) (local.get $block)))
            (br $blocks)))
        (v128.store align=4 (i32.add (local.get $pout) (i32.shl (local.get $j) (i32.const 2))) (local.get $total))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $vec)))
    (block $scalar_done
      (loop $scalar
        (br_if $scalar_done (i32.ge_u (local.get $j) (local.get $cols)))
        (local.set $st (f32.const 0))
        (local.set $i (i32.const 0))
        (local.set $p (i32.add (local.get $px) (i32.shl (local.get $j) (i32.const 2))))
        (block $blocks_done
          (loop $blocks
            (br_if $blocks_done (i32.ge_u (local.get $i) (local.get $rows)))
            (local.set $r (call $min (i32.sub (local.get $rows) (local.get $i)) (i32.const 64)))
            (local.set $i (i32.add (local.get $i) (local.get $r)))
            (local.set $sb (f32.const 0))
            (loop $rs
              (local.set $sb (f32.add (local.get $sb) (f32.load (local.get $p))))
              (local.set $p (i32.add (local.get $p) (local.get $ldx)))
              (br_if $rs (local.tee $r (i32.sub (local.get $r) (i32.const 1)))))
            (local.set $st (f32.add (local.get $st) (local.get $sb)))
            (br $blocks)))
        (f32.store (i32.add (local.get $pout) (i32.shl (local.get $j) (i32.const 2))) (local.get $st))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $scalar))))
)
