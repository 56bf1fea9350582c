import createDOMPurify from 'dompurify';
import { JSDOM } from 'jsdom';
import rawSanitizeHtml from 'sanitize-html';
import { filterXSS } from 'xss';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { createSanitizer, PRESETS } from '../src/index.ts';

/** A realistic comment/issue body: headings, lists, code, links, images, a table, a few hostile bits. */
const UNIT = `<h2>Steps to reproduce</h2>
<p>Run <code>pnpm test</code> with <strong>Node 24</strong> and see <a href="https://example.com/issue/1?x=1&amp;y=2">the log</a>.
<img src="https://img.example.com/shot.png" alt="screenshot" width="320" onerror="alert(1)"></p>
<ul><li>first &amp; foremost</li><li>second <em>point</em> <a href="javascript:alert(1)">bad</a></li></ul>
<pre><code class="language-ts">const a = 1 &lt; 2;
console.log(a);</code></pre>
<table><thead><tr><th>k</th><th>v</th></tr></thead><tbody><tr><td>a</td><td>1</td></tr></tbody></table>
<blockquote><p>quoted <span style="color:red">text</span></p></blockquote><script>alert(1)</script>
`;

function documentOf(bytes: number): string {
  let out = '';
  while (out.length < bytes) out += UNIT;
  return out.slice(0, bytes);
}

const ours = createSanitizer({ preset: 'ugc' });
// The peer a user would pick instead, configured to the same allowlist as our ugc preset (not
// its looser defaults): same elements, same attribute names, same schemes.
const ugc = PRESETS.ugc;
const peerOptions: rawSanitizeHtml.IOptions = {
  allowedTags: [...ugc.tags],
  allowedAttributes: Object.fromEntries(
    ugc.tags.map((tag) => [tag, [...(ugc.attributes['*'] ?? []), ...(ugc.attributes[tag] ?? [])]]),
  ),
  allowedClasses: { code: ['language-*'], pre: ['language-*'] },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
};
const window = new JSDOM('').window;
const purify = createDOMPurify(window as unknown as Parameters<typeof createDOMPurify>[0]);

export default defineBench('@rampart/sanitize', async (b) => {
  for (const kb of [1, 10, 100]) {
    const html = documentOf(kb * 1024);
    const bytesPerOp = Buffer.byteLength(html);
    const note = 'ours = sanitize-html + parse5 verification + URL/CSS policy';
    await b.compare(`sanitize ${kb} KB vs raw sanitize-html`, {
      ours: () => ours.sanitizeToString(html),
      peer: { name: 'sanitize-html 2.18', fn: () => rawSanitizeHtml(html, peerOptions) },
      bytesPerOp,
      note: `target ≥ 0.5×; ${note}`,
    });
    await b.compare(`sanitize ${kb} KB vs DOMPurify + jsdom`, {
      ours: () => ours.sanitizeToString(html),
      peer: { name: 'DOMPurify 3 + jsdom', fn: () => purify.sanitize(html) },
      bytesPerOp,
      note: 'target ≥ 2×',
    });
    await b.compare(`sanitize ${kb} KB vs xss`, {
      ours: () => ours.sanitizeToString(html),
      peer: { name: 'xss (js-xss)', fn: () => filterXSS(html) },
      bytesPerOp,
      note: 'js-xss builds no tree: output not guaranteed well-formed',
    });
  }
});
