// Voice notes (语音) recorded on the phone with MediaRecorder, attached to a report like its photos: named by their
// SHA-256 (the id the API gives them), queued with the report, uploaded before it (POST /media), named in the
// report's `voice_ids` (device-profiles/handheld.yaml). Ogg/Opus where the browser records it, else WebM/Opus
// (Chrome on Android): the API takes both (docs/handheld.md).
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { html } from './util.js';
import { sha256Hex } from './photos.js';

export const MAX_VOICES = 3;
const MAX_SECONDS = 60;
const TYPES = ['audio/ogg;codecs=opus', 'audio/webm;codecs=opus', 'audio/webm'];

export function canRecord() {
  return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
}

/** [voices, recording (seconds so far, or null), start, stop, clear]. */
export function useVoice() {
  const [voices, setVoices] = useState([]);
  const [seconds, setSeconds] = useState(null);
  const [error, setError] = useState(null);
  const rec = useRef(null);
  useEffect(() => () => rec.current?.recorder.state === 'recording' && rec.current.recorder.stop(), []);

  async function start() {
    if (rec.current || voices.length >= MAX_VOICES) return;
    setError(null);
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      setError(`${t('voice.denied')} (${e.name || e})`);
      return;
    }
    const mimeType = TYPES.find((x) => MediaRecorder.isTypeSupported(x));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType, audioBitsPerSecond: 24_000 } : {});
    const chunks = [];
    const began = Date.now();
    const timer = setInterval(() => {
      const s = Math.floor((Date.now() - began) / 1000);
      setSeconds(s);
      if (s >= MAX_SECONDS) recorder.stop();
    }, 250);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = async () => {
      clearInterval(timer);
      stream.getTracks().forEach((track) => track.stop());
      rec.current = null;
      setSeconds(null);
      const type = (recorder.mimeType || chunks[0]?.type || 'audio/webm').split(';')[0];
      const blob = new Blob(chunks, { type });
      if (!blob.size) { setError(t('voice.empty')); return; }
      const voice = { id: await sha256Hex(blob), blob, type, seconds: Math.max(1, Math.round((Date.now() - began) / 1000)) };
      setVoices((old) => [...old, voice].slice(0, MAX_VOICES));
    };
    rec.current = { recorder };
    recorder.start(1000);
    setSeconds(0);
  }

  function stop() {
    if (rec.current?.recorder.state === 'recording') rec.current.recorder.stop();
  }

  return { voices, seconds, error, start, stop, clear: () => setVoices([]) };
}

function Clip({ voice }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const made = URL.createObjectURL(voice.blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [voice.blob]);
  return url ? html`<li><audio controls preload="metadata" src=${url} aria-label=${t('voice')}></audio>
    <span class="small">${voice.seconds} s</span></li>` : null;
}

/** The recorder's button and the notes recorded for one report. */
export function VoiceField({ voice }) {
  const { voices, seconds, error, start, stop } = voice;
  if (!canRecord()) return null;
  const recording = seconds !== null;
  return html`<div class="field">
    <span class="label">${t('voice')} (${voices.length}/${MAX_VOICES})</span>
    ${voices.length ? html`<ul class="voices" id="hh-voices">${voices.map((v) => html`<${Clip} key=${v.id} voice=${v} />`)}</ul>` : null}
    <button type="button" id="hh-voice" class=${'button secondary' + (recording ? ' recording' : '')}
      aria-pressed=${recording} disabled=${!recording && voices.length >= MAX_VOICES}
      onClick=${recording ? stop : start}>
      ${recording ? `■ ${t('voice.stop')} 0:${String(seconds).padStart(2, '0')}` : `🎤 ${t('voice.record')}`}</button>
    ${error ? html`<p class="small error">${error}</p>` : null}
  </div>`;
}
