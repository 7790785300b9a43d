/**
 * The lowest-loss parameters of phase 2 (straight-through rounding), member by member.
 *
 * Why: the straight-through phase can RAISE the real loss. Adam moves every latent by about
 * its step size whatever the size of its (straight-through, biased) gradient, so latents
 * drift across the rounding boundaries and the rate climbs. Measured with the PyTorch
 * reference (train/perimage/sweep.py, 128x128 crop of training photo 100075, lambda 1.5e-3,
 * 8000 steps): the rounded loss was 7.8e-4 at the switch and 9.7e-4 after the last step
 * (latent bits 0.226 -> 0.380 bpp); on Kodak, the TypeScript encoder at 8000 steps ended
 * with more bits and a lower PSNR than at 2000. So the trainers (train.ts, train-batch.ts)
 * offer the parameters of the switch, of every `bestEvery`-th step of phase 2 and of the end,
 * each with the loss that step computed anyway (rounded latents, float network: what the
 * quantization starts from), and the encoder keeps the best instead of the last.
 *
 * The parameters stay on the device: an offer is a reference to tensors the step made
 * anyway (tfjs clones share their data), and a member's improvement is a select over the
 * stacks (theta [K*nTheta], canvas [K, Hc, Wc, 1]).
 */
import * as tf from '@tensorflow/tfjs-core';

export class BestOfPhase2 {
  private th: tf.Tensor1D | null = null;
  private lat: tf.Tensor4D | null = null;
  private readonly loss: Float64Array;

  constructor(readonly members: number) {
    this.loss = new Float64Array(members).fill(Infinity);
  }

  /** the best loss of each member so far (Infinity before the first offer) */
  losses(): Float64Array {
    return Float64Array.from(this.loss);
  }

  /**
   * Offer parameters whose per-member losses are `loss` (length K). Takes ownership of `th`
   * and `lat` (disposes them, or keeps them as the best).
   * REQUIRES: th is [K*nTheta] and lat [K, Hc, Wc, 1], the shapes of every earlier offer.
   */
  offer(th: tf.Tensor1D, lat: tf.Tensor4D, loss: ArrayLike<number>): void {
    const better = Array.from({ length: this.members }, (_, k) => loss[k] < this.loss[k]);
    if (!better.some(Boolean)) {
      tf.dispose([th, lat]);
      return;
    }
    better.forEach((b, k) => { if (b) this.loss[k] = loss[k]; });
    if (this.th === null || this.lat === null || better.every(Boolean)) {
      this.replace(th, lat);
      return;
    }
    const K = this.members;
    const oldTh = this.th, oldLat = this.lat;
    const next = tf.tidy(() => {
      const pick = tf.tensor1d(better.map((b) => (b ? 1 : 0)), 'bool');
      const nTheta = th.size / K;
      const pickTh = tf.reshape(tf.tile(tf.reshape(pick, [K, 1]), [1, nTheta]), [K * nTheta]);
      const pickLat = tf.broadcastTo(tf.reshape(pick, [K, 1, 1, 1]), lat.shape);
      return [tf.where(pickTh, th, oldTh), tf.where(pickLat, lat, oldLat)] as [tf.Tensor1D, tf.Tensor4D];
    });
    tf.dispose([th, lat]);
    this.replace(next[0], next[1]);
  }

  /** the kept theta and canvas, read back; null before the first offer */
  async read(): Promise<[Float32Array, Float32Array] | null> {
    if (!this.th || !this.lat) return null;
    const [a, b] = await Promise.all([this.th.data(), this.lat.data()]);
    return [a as Float32Array, b as Float32Array];
  }

  dispose(): void {
    if (this.th) this.th.dispose();
    if (this.lat) this.lat.dispose();
    this.th = null;
    this.lat = null;
  }

  private replace(th: tf.Tensor1D, lat: tf.Tensor4D): void {
    this.dispose();
    this.th = th;
    this.lat = lat;
  }
}
