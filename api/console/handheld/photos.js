// Photos from the phone's camera: scaled down for a weak network, named by their SHA-256 (the id the API gives
// them, so a report can name them before they are uploaded), shown as thumbnails.
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { upload } from './outbox.js';
import { html } from './util.js';

export const MAX_PHOTOS = 9;
const PHOTO_MAX_SIDE = 1600;

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A camera photo as it will be uploaded: scaled down to PHOTO_MAX_SIDE (a phone's 12 MP is not needed to see a
 * broken cover, and the upload goes over a weak network), its id the SHA-256 the API will give it. */
async function preparePhoto(file) {
  let blob = file;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale < 1) {
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
    }
    bitmap.close();
  } catch { /* not decodable here: sent as taken, the API says whether it takes it */ }
  const type = blob.type === 'image/png' || blob.type === 'image/webp' ? blob.type : 'image/jpeg';
  return { id: await sha256Hex(blob), blob, type };
}

/** Photos taken for one report or answer: [photos, add (the file input's change handler), clear]. With a
 * `pairing` and a network, each photo is uploaded at once for the API's label reader: a photo showing a
 * component's QR label comes back with its `componentIds` (the report names the component). Offline, or when the
 * upload fails, nothing is lost: the queue uploads the photo before the report (the same id, no second copy); a
 * photo uploaded here is marked `uploaded`, and the queue does not send its bytes over the phone's network again. */
export function usePhotos(pairing = null) {
  const [photos, setPhotos] = useState([]);
  async function add(e) {
    const files = [...e.currentTarget.files].slice(0, MAX_PHOTOS - photos.length);
    e.currentTarget.value = '';
    const ready = await Promise.all(files.map(preparePhoto));
    setPhotos((old) => [...old, ...ready.filter((p) => !old.some((o) => o.id === p.id))].slice(0, MAX_PHOTOS));
    if (!pairing || !navigator.onLine) return;
    for (const photo of ready) {
      try {
        const { component_ids: ids = [] } = await upload(pairing, photo);
        setPhotos((old) => old.map((p) => (p.id === photo.id ? { ...p, uploaded: true, componentIds: ids } : p)));
      } catch { /* the queue uploads it again, and says so if the API refuses it */ }
    }
  }
  return [photos, add, () => setPhotos([])];
}

/** The component a report's photos show by their QR labels (the first one read), if any. */
export function labelledComponent(photos) {
  return photos.flatMap((p) => p.componentIds || [])[0] || null;
}

function Thumb({ blob }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [blob]);
  return url ? html`<img src=${url} alt=${t('photo')} />` : null;
}

export function Thumbs({ photos }) {
  return html`<div class="thumbs">${photos.map((p) => html`<${Thumb} key=${p.id} blob=${p.blob} />`)}</div>`;
}
