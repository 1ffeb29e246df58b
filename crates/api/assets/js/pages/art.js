// Generative art: the tokens of this chain's ProvenanceNFT with what reproduces each image
// (model hash, seed, the prompt once revealed, the image hash), and a preview of the image
// any prompt and seed generate with the shipped CPPN — the same bytes `alara nft mint`
// mints. GET /api/v1/nft/tokens and POST /api/v1/nft/preview.
import { h, api, mount, errorBox, loading, table, stat, route, ready, short, addrLink, empty } from '../core.js';

export async function render(root, parts, query, current) {
  const prompt = query.prompt || 'a lighthouse in a storm';
  const seed = query.seed || '7';
  const form = h('form', { class: 'row', id: 'art-form' },
    h('label', null, 'Prompt ', h('input', { name: 'prompt', id: 'art-prompt', value: prompt, maxlength: 1000, style: 'width:24em' })),
    h('label', null, ' Seed ', h('input', { name: 'seed', id: 'art-seed', value: seed, style: 'width:10em' })),
    h('button', { type: 'submit', id: 'art-run' }, 'Preview'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = route(['art'], { prompt: f.get('prompt'), seed: f.get('seed') });
  });
  const previewBox = h('div', { id: 'art-preview' }, loading('Generating…'));
  const tokensBox = h('div', { id: 'art-tokens' }, loading('Reading the tokens…'));
  mount(root, h('h1', null, 'Art'), h('p', { class: 'muted' },
    'Images generated bit for bit identically on any machine by the shipped CPPN from a prompt and a seed. ',
    'A token records the model hash, a salted commitment to the prompt, the seed and the image hash; anyone regenerates the image and compares bytes (alara nft verify). ',
    'ProvenanceNFT reports a 10% ERC-2981 royalty to the artist, which NftMarket pays on every sale; other marketplaces need not.'),
    form, previewBox, h('h2', null, 'Minted tokens'), tokensBox);

  const previewing = api('/nft/preview', { method: 'POST', body: { prompt, seed: String(seed) } })
    .then((p) => {
      if (!current()) return;
      mount(previewBox, h('div', { class: 'row' },
        h('img', { id: 'art-image', src: `data:image/png;base64,${p.png_base64}`, width: p.size, height: p.size, alt: prompt, 'data-sha256': p.sha256 }),
        h('div', { class: 'grid' }, stat('Image SHA-256', h('code', { id: 'art-sha256', title: p.sha256 }, `${p.sha256.slice(0, 16)}…`)),
          stat('Model SHA-256', `${p.model_sha256.slice(0, 16)}…`), stat('Seed', p.seed))));
    })
    .catch((e) => { if (current()) mount(previewBox, errorBox(e)); });

  const listing = api('/nft/tokens', { query: { limit: 50 } })
    .then((t) => {
      if (!current()) return;
      if (!t.tokens.length) {
        mount(tokensBox, empty(t.contract ? 'No token minted yet.' : 'No ProvenanceNFT on this chain yet.', 'alara demo nft'));
        return;
      }
      const rows = t.tokens.map((x) => h('tr', { 'data-token': x.token_id, 'data-image-sha256': x.image_sha256 },
        h('td', null, String(x.token_id)),
        h('td', null, x.prompt == null ? h('span', { class: 'muted', title: x.prompt_commitment }, `committed ${x.prompt_commitment.slice(0, 10)}…`) : x.prompt),
        h('td', { class: 'num' }, x.seed),
        h('td', null, addrLink(x.artist)),
        h('td', null, addrLink(x.owner)),
        h('td', { class: 'num' }, `${x.royalty_bps / 100}%`),
        h('td', null, h('code', { title: x.image_sha256 }, short(x.image_sha256, 12))),
        h('td', null, h('code', { title: x.image_cid }, short(x.image_cid, 14))),
        h('td', null, x.shipped_model ? 'shipped CPPN' : h('span', { class: 'muted' }, 'another model'))));
      mount(tokensBox, h('p', { class: 'muted' }, `${t.total} minted by ProvenanceNFT ${t.contract}`),
        table(['Token', 'Prompt', 'Seed', 'Artist', 'Owner', 'Royalty', 'Image SHA-256', 'Image CID', 'Model'], rows, { id: 'art-table' }));
    })
    .catch((e) => { if (current()) mount(tokensBox, errorBox(e)); });
  await Promise.all([previewing, listing]);
  if (current()) ready('art');
}
