;; AdamW and the EMA over flat float32 arrays in a shared linear memory, 4 lanes at a time (train/sharded_update.ts).
;; Each operation is one IEEE float32 operation, in the order of AdamW.apply's and IJepa.updateTarget's tfjs ops, so
;; the bits are the same; the lanes are independent elements. Pointers are byte offsets, n counts float32 elements;
;; the tail after the last full vector runs one element at a time with the same operations.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; out[i] = a[i] + b[i]
  (func (export "add") (param $out i32) (param $a i32) (param $b i32) (param $n i32)
    (local $vend i32) (local $end i32)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $out) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $out) (local.get $vend)))
        (v128.store (local.get $out) (f32x4.add (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $vec)))
    (block $done1
      (loop $one
        (br_if $done1 (i32.ge_u (local.get $out) (local.get $end)))
        (f32.store (local.get $out) (f32.add (f32.load (local.get $a)) (f32.load (local.get $b))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $one))))

  ;; x[i] = x[i] / k
  (func (export "div") (param $x i32) (param $n i32) (param $k f32)
    (local $vend i32) (local $end i32) (local $kv v128)
    (local.set $kv (f32x4.splat (local.get $k)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
        (v128.store (local.get $x) (f32x4.div (v128.load (local.get $x)) (local.get $kv)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br $vec)))
    (block $done1
      (loop $one
        (br_if $done1 (i32.ge_u (local.get $x) (local.get $end)))
        (f32.store (local.get $x) (f32.div (f32.load (local.get $x)) (local.get $k)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $one))))

  ;; One AdamW step: p ← p·decay (decay = 1 leaves p exactly as it is); m ← m + (g − m)·c1;
  ;; v ← v·beta2 + (g·g)·c2; p ← p − (m / (sqrt(v) / bias2 + eps))·step.
  (func (export "adamw")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $decay f32) (param $c1 f32) (param $beta2 f32) (param $c2 f32) (param $bias2 f32) (param $eps f32)
    (param $step f32)
    (local $vend i32) (local $end i32)
    (local $decayV v128) (local $c1V v128) (local $beta2V v128) (local $c2V v128) (local $bias2V v128)
    (local $epsV v128) (local $stepV v128)
    (local $gx v128) (local $mx v128) (local $vx v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $decayV (f32x4.splat (local.get $decay)))
    (local.set $c1V (f32x4.splat (local.get $c1)))
    (local.set $beta2V (f32x4.splat (local.get $beta2)))
    (local.set $c2V (f32x4.splat (local.get $c2)))
    (local.set $bias2V (f32x4.splat (local.get $bias2)))
    (local.set $epsV (f32x4.splat (local.get $eps)))
    (local.set $stepV (f32x4.splat (local.get $step)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
        (local.set $gx (v128.load (local.get $g)))
        (local.set $mx (v128.load (local.get $m)))
        (local.set $mx (f32x4.add (local.get $mx) (f32x4.mul (f32x4.sub (local.get $gx) (local.get $mx)) (local.get $c1V))))
        (local.set $vx (f32x4.add
          (f32x4.mul (v128.load (local.get $v)) (local.get $beta2V))
          (f32x4.mul (f32x4.mul (local.get $gx) (local.get $gx)) (local.get $c2V))))
        (v128.store (local.get $p)
          (f32x4.sub
            (f32x4.mul (v128.load (local.get $p)) (local.get $decayV))
            (f32x4.mul
              (f32x4.div (local.get $mx)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vx)) (local.get $bias2V)) (local.get $epsV)))
              (local.get $stepV))))
        (v128.store (local.get $m) (local.get $mx))
        (v128.store (local.get $v) (local.get $vx))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (br $vec)))
    (block $done1
      (loop $one
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $gs (f32.load (local.get $g)))
        (local.set $ms (f32.load (local.get $m)))
        (local.set $ms (f32.add (local.get $ms) (f32.mul (f32.sub (local.get $gs) (local.get $ms)) (local.get $c1))))
        (local.set $vs (f32.add
          (f32.mul (f32.load (local.get $v)) (local.get $beta2))
          (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (local.get $p)
          (f32.sub
            (f32.mul (f32.load (local.get $p)) (local.get $decay))
            (f32.mul
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $bias2)) (local.get $eps)))
              (local.get $step))))
        (f32.store (local.get $m) (local.get $ms))
        (f32.store (local.get $v) (local.get $vs))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $one))))

  ;; t[i] = t[i]·keep + s[i]·take
  (func (export "ema") (param $t i32) (param $s i32) (param $n i32) (param $keep f32) (param $take f32)
    (local $vend i32) (local $end i32) (local $keepV v128) (local $takeV v128)
    (local.set $keepV (f32x4.splat (local.get $keep)))
    (local.set $takeV (f32x4.splat (local.get $take)))
    (local.set $end (i32.add (local.get $t) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $t) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $t) (local.get $vend)))
        (v128.store (local.get $t)
          (f32x4.add (f32x4.mul (v128.load (local.get $t)) (local.get $keepV))
                     (f32x4.mul (v128.load (local.get $s)) (local.get $takeV))))
        (local.set $t (i32.add (local.get $t) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $vec)))
    (block $done1
      (loop $one
        (br_if $done1 (i32.ge_u (local.get $t) (local.get $end)))
        (f32.store (local.get $t)
          (f32.add (f32.mul (f32.load (local.get $t)) (local.get $keep))
                   (f32.mul (f32.load (local.get $s)) (local.get $take))))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (local.set $s (i32.add (local.get $s) (i32.const 4)))
        (br $one))))
)
