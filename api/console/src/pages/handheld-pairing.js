// Pairing an inspector's phone (城管通, docs/handheld.md): the supervisor names the inspector, the API registers a
// new handheld device for them and answers with a link carrying its credentials, shown here as a QR code for the
// phone's camera. The secret is shown this once; pairing again makes a new device.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { lang } from '../i18n.js';
import { ErrorBox, html } from '../ui.js';

const WORDS = {
  zh: { title: '配对城管通', inspector: '监督员用户名', pair: '生成配对二维码', device: '设备',
    scan: '请监督员用手机相机扫描此二维码，在浏览器中打开城管通并“添加到主屏幕”。二维码含设备密钥，仅显示一次。',
    link: '配对链接' },
  en: { title: 'Pair a handheld', inspector: "Inspector's username", pair: 'Make the pairing QR code', device: 'Device',
    scan: "The inspector scans this code with the phone's camera, opens 城管通 in the browser and adds it to the home "
      + 'screen. The code holds the device secret and is shown this once.', link: 'Pairing link' },
};
const w = (key) => (WORDS[lang()] || WORDS.zh)[key];

export function PairHandheld() {
  const [inspector, setInspector] = useState('');
  const [paired, setPaired] = useState(null);
  const [error, setError] = useState(null);
  async function pair(e) {
    e.preventDefault();
    setError(null);
    setPaired(null);
    try {
      setPaired(await api('/handhelds/pairings', { method: 'POST', body: { inspector: inspector.trim() } }));
    } catch (err) { setError(err); }
  }
  return html`<div class="panel handheld-pairing">
    <h2>${w('title')}</h2>
    <form class="filters" onSubmit=${pair} aria-label=${w('title')}>
      <label for="pair-inspector">${w('inspector')}<input id="pair-inspector" required maxlength="64" value=${inspector}
        onInput=${(e) => setInspector(e.currentTarget.value)} /></label>
      <button type="submit">${w('pair')}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${paired ? html`<div class="pairing" data-device=${paired.device_id}>
      <p>${w('device')} <strong>${paired.device_id}</strong> · ${paired.inspector}</p>
      <div class="qr" role="img" aria-label=${w('link')} dangerouslySetInnerHTML=${{ __html: paired.qr_svg }}></div>
      <p class="small">${w('scan')}</p>
      <p class="small">${w('link')}: <a id="pair-link" href=${paired.link} target="_blank" rel="noopener noreferrer">${paired.link}</a></p>
    </div>` : null}
  </div>`;
}
