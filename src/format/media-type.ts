/**
 * How .nimg files are named and labelled on the web (docs/serving.md says why).
 *
 * `image/x-nimg`: top-level `image` because a .nimg is a still image, like image/avif and
 * image/jxl, so caches, CDNs and `Accept: image/*` rules treat it as one; the `x-` subtype
 * because the type is not registered with IANA (a standards-tree `image/nimg` needs an IETF
 * or standards-body specification; registration would make it `image/vnd.nimg`).
 */
export const NIMG_MEDIA_TYPE = 'image/x-nimg';

/** The file extension, with its dot. */
export const NIMG_EXTENSION = '.nimg';
