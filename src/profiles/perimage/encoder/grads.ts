/**
 * Gradients of the tfjs kernels the per-image model uses, registered with tfjs's tape.
 *
 * Why this file: tfjs-core's Node build (dist/tf-core.node.js, what `import '@tensorflow/
 * tfjs-core'` loads under Node) registers no gradients, and its per-kernel gradient modules
 * (dist/gradients/*.js) are extension-less ESM that Node cannot import. Each kernel here is
 * registered only if nothing registered it before (a host page that loaded full tfjs keeps
 * its own). Only the kernels of forward.ts / rate.ts / train.ts are covered; the test of
 * this file compares each against central differences.
 */
import * as tf from '@tensorflow/tfjs-core';

type Saved = tf.Tensor[];
type Attrs = Record<string, unknown>;
type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: Saved, attrs: Attrs) => Record<string, () => tf.Tensor>;
interface Cfg { kernelName: string; inputsToSave?: string[]; outputsToSave?: boolean[]; saveAllInputs?: boolean; gradFunc: GradFunc }

/** Sum dy over the axes that broadcasting added or stretched, back to `shape`. */
function reduceTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.util.arraysEqual(dy.shape, shape)) return dy;
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape);
}

const zero = (x: tf.Tensor) => () => tf.zeros(x.shape, 'float32');
const one = (dy: tf.Tensor | tf.Tensor[]) => dy as tf.Tensor;

const CONFIGS: Cfg[] = [
  { kernelName: 'Add', inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => reduceTo(one(dy), a.shape), b: () => reduceTo(one(dy), b.shape) }) },
  { kernelName: 'Sub', inputsToSave: ['a', 'b'], gradFunc: (dy, [a, b]) => ({ a: () => reduceTo(one(dy), a.shape), b: () => reduceTo(tf.neg(one(dy)), b.shape) }) },
  {
    kernelName: 'Multiply', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({ a: () => reduceTo(tf.mul(one(dy), b), a.shape), b: () => reduceTo(tf.mul(one(dy), a), b.shape) }),
  },
  {
    kernelName: 'RealDiv', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({ a: () => reduceTo(tf.div(one(dy), b), a.shape), b: () => reduceTo(tf.neg(tf.div(tf.mul(one(dy), a), tf.square(b))), b.shape) }),
  },
  {
    kernelName: 'Maximum', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => reduceTo(tf.mul(one(dy), tf.cast(tf.greaterEqual(a, b), 'float32')), a.shape),
      b: () => reduceTo(tf.mul(one(dy), tf.cast(tf.less(a, b), 'float32')), b.shape),
    }),
  },
  {
    kernelName: 'Minimum', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => reduceTo(tf.mul(one(dy), tf.cast(tf.lessEqual(a, b), 'float32')), a.shape),
      b: () => reduceTo(tf.mul(one(dy), tf.cast(tf.greater(a, b), 'float32')), b.shape),
    }),
  },
  {
    kernelName: 'SquaredDifference', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const d = () => tf.mul(one(dy), tf.mul(tf.sub(a, b), 2));
      return { a: () => reduceTo(d(), a.shape), b: () => reduceTo(tf.neg(d()), b.shape) };
    },
  },
  { kernelName: 'Abs', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(one(dy), tf.sign(x)) }) },
  { kernelName: 'Exp', outputsToSave: [true], gradFunc: (dy, [y]) => ({ x: () => tf.mul(one(dy), y) }) },
  { kernelName: 'Log', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.div(one(dy), x) }) },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(one(dy)) }) },
  { kernelName: 'Square', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(one(dy), tf.mul(x, 2)) }) },
  { kernelName: 'Relu', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.mul(one(dy), tf.cast(tf.greater(x, 0), 'float32')) }) },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => one(dy) }) },
  // piecewise-constant kernels: zero slope (STE is a customGrad in train.ts)
  ...['Round', 'Sign', 'Floor', 'Step'].map((k): Cfg => ({ kernelName: k, inputsToSave: ['x'], gradFunc: (_dy, [x]) => ({ x: zero(x) }) })),
  ...['Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal'].map((k): Cfg => ({
    kernelName: k, inputsToSave: ['a', 'b'], gradFunc: (_dy, [a, b]) => ({ a: zero(a), b: zero(b) }),
  })),
  { kernelName: 'Cast', inputsToSave: ['x'], gradFunc: (dy) => ({ x: () => tf.cast(one(dy), 'float32') }) },
  {
    kernelName: 'ClipByValue', inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({
      x: () => tf.mul(one(dy), tf.cast(tf.logicalAnd(tf.greaterEqual(x, attrs.clipValueMin as number), tf.lessEqual(x, attrs.clipValueMax as number)), 'float32')),
    }),
  },
  {
    kernelName: 'Select', inputsToSave: ['condition'],
    gradFunc: (dy, [c]) => {
      const m = () => tf.cast(c, 'float32');
      return { condition: zero(c), t: () => tf.mul(one(dy), m()), e: () => tf.mul(one(dy), tf.sub(1, m())) };
    },
  },
  {
    kernelName: 'Sum', inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => tf.mul(tf.reshape(one(dy), keptShape(x.shape, attrs.axis)), tf.ones(x.shape)) }),
  },
  {
    kernelName: 'Mean', inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const keep = keptShape(x.shape, attrs.axis);
      const n = x.size / keep.reduce((p, q) => p * q, 1);
      return { x: () => tf.mul(tf.reshape(tf.div(one(dy), n), keep), tf.ones(x.shape)) };
    },
  },
  { kernelName: 'Reshape', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => tf.reshape(one(dy), x.shape) }) },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _s, attrs) => {
      const perm = attrs.perm as number[];
      const undo = perm.map((_, i) => perm.indexOf(i));
      return { x: () => tf.transpose(one(dy), undo) };
    },
  },
  {
    kernelName: 'Slice', inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const begin = attrs.begin as number[];
      const d = one(dy);
      return { x: () => tf.pad(d, x.shape.map((n, i) => [begin[i], n - begin[i] - d.shape[i]] as [number, number])) };
    },
  },
  {
    kernelName: 'PadV2', inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => tf.slice(one(dy), (attrs.paddings as [number, number][]).map((p) => p[0]), x.shape) }),
  },
  {
    kernelName: 'Concat', saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const ax = normAxis(attrs.axis as number, saved[0].rank);
      const parts = tf.split(one(dy), saved.map((t) => t.shape[ax]), ax);
      return Object.fromEntries(parts.map((p, i) => [String(i), () => p]));
    },
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dy, _s, attrs) => ({ x: () => tf.concat(dy as tf.Tensor[], attrs.axis as number) }),
  },
  {
    // the filter never needs a gradient here (forward.ts's conv filters are constants), and
    // tfjs WASM has no Conv2DBackpropFilter kernel
    kernelName: 'Conv2D', inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, f], attrs) => ({
      x: () => tf.conv2dTranspose(one(dy) as tf.Tensor4D, f as tf.Tensor4D, x.shape as [number, number, number, number], attrs.strides as [number, number], attrs.pad as 'valid'),
      filter: () => {
        throw new Error('perimage grads: conv2d filter gradients are not provided (use a matMul)');
      },
    }),
  },
  {
    kernelName: 'BatchMatMul', inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      const d = one(dy);
      const tA = attrs.transposeA as boolean;
      const tB = attrs.transposeB as boolean;
      const mm = (x: tf.Tensor, y: tf.Tensor, ta: boolean, tb: boolean) => tf.matMul(x, y, ta, tb);
      // batch dims are never broadcast in this model (rank-2 matmuls)
      if (!tA && !tB) return { a: () => mm(d, b, false, true), b: () => mm(a, d, true, false) };
      if (!tA && tB) return { a: () => mm(d, b, false, false), b: () => mm(d, a, true, false) };
      if (tA && !tB) return { a: () => mm(b, d, false, true), b: () => mm(a, d, false, false) };
      return { a: () => mm(b, d, true, true), b: () => mm(d, a, true, true) };
    },
  },
];

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** shape of x with the reduced axes kept as 1 */
function keptShape(shape: number[], axis: unknown): number[] {
  const axes = axis == null ? shape.map((_, i) => i) : (Array.isArray(axis) ? axis : [axis as number]).map((a) => normAxis(a, shape.length));
  return shape.map((n, i) => (axes.includes(i) ? 1 : n));
}

let done = false;

/** Register the missing gradients (idempotent). */
export function ensureGradients(): void {
  if (done) return;
  done = true;
  for (const c of CONFIGS) {
    if (tf.getGradient(c.kernelName)) continue;
    tf.registerGradient(c as unknown as tf.GradConfig);
  }
}
