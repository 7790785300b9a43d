/**
 * nimg/element — `<nimg-img>`, a drop-in for `<img>` showing .nimg files:
 *
 *   <script type="module" src="…/nimg/dist/element/index.js"></script>   (or: import 'nimg/element')
 *   <nimg-img src="photo.nimg" alt="A lighthouse" width="768" height="512" loading="lazy"
 *             fallback="photo.jpg"></nimg-img>
 *
 * It fetches the file, decodes it in the shared decoder worker (nimg/worker: nothing heavy
 * runs on the page's thread) and paints a canvas of the image's natural size, laid out like
 * an <img>: `width`/`height` attributes in CSS pixels (one of them keeps the aspect ratio),
 * else the natural size. Accessible as an image: role="img" with aria-label = alt (alt=""
 * makes it presentational). loading="lazy" waits until it nears the viewport
 * (IntersectionObserver). Fires `load`, or `error` (its `detail`: the NimgError) when
 * nothing could be shown. `fallback`: an ordinary image URL shown instead where the browser
 * lacks what nimg needs (module workers, WebAssembly) or the decode fails.
 * Importing this module defines the element; `configure()` sets the decoder's options
 * (asset URLs, backend) before the first element loads.
 */
import { createDecoder, type DecoderOptions, type WorkerDecoder } from '../worker/index.js';
import { NimgError } from '../errors.js';

let options: DecoderOptions = {};
let shared: WorkerDecoder | null = null;

/** Options of the shared decoder worker (see nimg/worker); call before the first element loads. */
export function configure(o: DecoderOptions): void {
  options = { ...o };
  shared?.dispose();
  shared = null;
}

function decoder(): WorkerDecoder {
  shared ??= createDecoder(options);
  return shared;
}

/** What the worker path needs; without it the element shows its fallback. */
export function supported(): boolean {
  return typeof Worker !== 'undefined' && typeof WebAssembly === 'object' && typeof fetch === 'function';
}

// Node / SSR imports must not fail on a missing HTMLElement: the class is only used in browsers.
const Base = (typeof HTMLElement !== 'undefined' ? HTMLElement : class {}) as typeof HTMLElement;

const STYLE = ':host{display:inline-block;overflow:hidden}:host([hidden]){display:none}canvas,img{display:block;width:100%;height:100%}';

export class NimgImageElement extends Base {
  static get observedAttributes(): string[] {
    return ['src', 'alt', 'width', 'height', 'loading', 'fallback'];
  }

  /** natural size of the decoded image (0 until loaded) */
  naturalWidth = 0;
  naturalHeight = 0;
  /** true once the image (or its fallback) is shown, or loading failed */
  complete = false;
  /** the URL shown: src, or fallback */
  currentSrc = '';
  /** the failure, when `error` fired or the fallback replaced the decode */
  error: NimgError | null = null;

  private root: ShadowRoot | null = null;
  private observer: IntersectionObserver | null = null;
  private generation = 0;
  private started = false;

  connectedCallback(): void {
    if (!this.root) {
      this.root = this.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = STYLE;
      this.root.append(style);
    }
    this.updateRole();
    this.updateSize();
    if (!this.started) this.schedule();
  }

  disconnectedCallback(): void {
    this.observer?.disconnect();
    this.observer = null;
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value || !this.root) return;
    if (name === 'alt') this.updateRole();
    else if (name === 'width' || name === 'height') this.updateSize();
    else if (name === 'src' || name === 'fallback') {
      this.started = false;
      this.schedule();
    } else if (name === 'loading' && value !== 'lazy' && !this.started) this.schedule();
  }

  get src(): string {
    return this.getAttribute('src') ?? '';
  }
  set src(v: string) {
    this.setAttribute('src', v);
  }
  get alt(): string {
    return this.getAttribute('alt') ?? '';
  }
  set alt(v: string) {
    this.setAttribute('alt', v);
  }

  private updateRole(): void {
    const alt = this.getAttribute('alt');
    if (alt === '') {
      this.setAttribute('role', 'presentation');
      this.removeAttribute('aria-label');
    } else {
      this.setAttribute('role', 'img');
      if (alt !== null) this.setAttribute('aria-label', alt);
      else this.removeAttribute('aria-label');
    }
  }

  /** CSS size like <img>: attributes (one keeps the natural aspect ratio), else the natural size. */
  private updateSize(): void {
    const num = (n: string) => {
      const v = this.getAttribute(n);
      return v !== null && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : null;
    };
    let w = num('width');
    let h = num('height');
    const nw = this.naturalWidth;
    const nh = this.naturalHeight;
    if (w === null && h !== null && nh) w = (h * nw) / nh;
    if (h === null && w !== null && nw) h = (w * nh) / nw;
    if (w === null && h === null && nw) {
      w = nw;
      h = nh;
    }
    // Inline size on the host: the box is known before the decode (no layout shift), as
    // an <img> with width/height attributes. Page CSS that sizes nimg-img needs !important.
    if (w !== null) this.style.width = `${w}px`;
    if (h !== null) this.style.height = `${h}px`;
  }

  private schedule(): void {
    if (!this.isConnected || !this.root) return;
    this.observer?.disconnect();
    this.observer = null;
    if (this.getAttribute('loading') === 'lazy' && typeof IntersectionObserver !== 'undefined') {
      this.observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) {
            this.observer?.disconnect();
            this.observer = null;
            void this.load();
          }
        },
        { rootMargin: '200px' }, // start a little before it scrolls in, as browsers do for <img loading=lazy>
      );
      this.observer.observe(this);
    } else {
      void this.load();
    }
  }

  private async load(): Promise<void> {
    this.started = true;
    const gen = ++this.generation;
    const src = this.src;
    this.complete = false;
    this.error = null;
    try {
      if (!src) throw new NimgError('BAD_INPUT', 'nimg-img: no src');
      if (!supported()) throw new NimgError('BACKEND_UNAVAILABLE', 'nimg-img: this browser lacks module workers or WebAssembly');
      const res = await fetch(new URL(src, document.baseURI));
      if (!res.ok) throw new NimgError('BAD_INPUT', `nimg-img: ${src} answered HTTP ${res.status}`);
      const image = await decoder().decode(await res.arrayBuffer());
      if (gen !== this.generation) return; // src changed meanwhile
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      canvas.setAttribute('part', 'canvas');
      canvas.getContext('2d')!.putImageData(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
      this.replaceContent(canvas);
      this.naturalWidth = image.width;
      this.naturalHeight = image.height;
      this.currentSrc = new URL(src, document.baseURI).href;
      this.updateSize();
      this.complete = true;
      this.dispatchEvent(new Event('load'));
    } catch (e) {
      if (gen !== this.generation) return;
      this.error = e instanceof NimgError ? e : new NimgError('INTERNAL', `nimg-img: ${String(e)}`, { cause: e });
      const fallback = this.getAttribute('fallback');
      if (fallback) this.showFallback(fallback, gen);
      else this.failed();
    }
  }

  private showFallback(url: string, gen: number): void {
    const img = document.createElement('img');
    img.alt = ''; // the host carries the accessible name
    img.addEventListener('load', () => {
      if (gen !== this.generation) return;
      this.naturalWidth = img.naturalWidth;
      this.naturalHeight = img.naturalHeight;
      this.currentSrc = img.currentSrc;
      this.updateSize();
      this.complete = true;
      this.dispatchEvent(new Event('load'));
    });
    img.addEventListener('error', () => {
      if (gen === this.generation) this.failed();
    });
    img.src = new URL(url, document.baseURI).href;
    this.replaceContent(img);
  }

  private failed(): void {
    this.complete = true;
    this.dispatchEvent(new CustomEvent('error', { detail: this.error }));
  }

  private replaceContent(node: Element): void {
    const root = this.root!;
    for (const el of Array.from(root.children)) if (el.tagName !== 'STYLE') el.remove();
    root.append(node);
  }
}

/** Define the element (idempotent); importing this module does it with the name nimg-img. */
export function define(name = 'nimg-img'): void {
  if (typeof customElements !== 'undefined' && !customElements.get(name)) customElements.define(name, class extends NimgImageElement {});
}

define();
