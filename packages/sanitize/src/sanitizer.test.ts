import { parseFragment } from 'parse5';
import { describe, expect, it } from 'vitest';
import { BENIGN_CORPUS } from '../test/fixtures/benign-corpus.ts';
import { createSanitizer, SanitizeError, sanitizeHtml, toPlainText } from './index.ts';
import { serializeChildren } from './serialize.ts';
import { parseInFlowContainer } from './verify.ts';

const PROXY = 'https://proxy.test/img?u=';
const email = createSanitizer({
  preset: 'email',
  allowedImageHosts: ['proxy.test'],
  rewriteUrl: (url, { kind }) =>
    kind === 'link' || kind === 'cite' || url.startsWith(PROXY) ? undefined : `${PROXY}${encodeURIComponent(url)}`,
});
const bySet = {
  ugc: createSanitizer({ preset: 'ugc' }),
  minimal: createSanitizer({ preset: 'minimal' }),
  text: createSanitizer({ preset: 'text' }),
  email,
};

function catchError(fn: () => unknown): SanitizeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SanitizeError) return error;
    throw error;
  }
  throw new Error('expected a SanitizeError');
}

describe('createSanitizer', () => {
  for (const c of BENIGN_CORPUS) {
    it(`keeps the expected output of the benign case "${c.name}" (${c.preset})`, () => {
      const result = bySet[c.preset].sanitize(c.input);
      expect(result.failedClosed).toBe(false);
      expect(result.html).toBe(c.expected);
      expect(bySet[c.preset].sanitizeToString(result.html)).toBe(result.html);
    });
  }

  it('refuses options that switch off a hard rule, listing every problem at once', () => {
    const error = catchError(() =>
      createSanitizer({
        allowTags: ['script', 'svg', 'xmp', 'textarea'],
        allowAttributes: { a: ['onclick', 'srcdoc'], img: ['formaction'] },
        allowSchemes: ['javascript', 'data'],
        allowCssProperties: ['position', 'z-index'],
      }),
    );
    expect(error.code).toBe('ERR_SANITIZE_INVALID_OPTIONS');
    expect(error.problems).toHaveLength(11);
    expect(error.retryable).toBe(false);
  });

  it('never puts a configured value into an error message', () => {
    const error = catchError(() =>
      createSanitizer({
        allowAttributes: { a: ['onSECRETVALUE', 'x-SECRETVALUE'] },
        allowedLinkHosts: ['SECRETVALUE/..'],
        allowSchemes: ['SECRETVALUE:'],
        allowClasses: { p: ['SECRET VALUE'] },
      }),
    );
    expect(error.message).not.toMatch(/SECRET/);
    expect(error.problems.join('\n')).not.toMatch(/SECRET/);
  });

  it('refuses a misspelt option, naming the option it is one edit from, with the other problems', () => {
    const error = catchError(() =>
      createSanitizer({
        preset: 'ugc',
        allowedLinkHost: ['good.example'],
        Allow_Tags: ['mark'],
        limits: { maxOutputChar: 20, max_input_bytes: 100 },
        allowSchemes: ['javascript'],
      } as never),
    );
    expect(error.code).toBe('ERR_SANITIZE_INVALID_OPTIONS');
    expect(error.problems).toEqual([
      expect.stringContaining('allowSchemes[0]'),
      'options key 2 is not an option; did you mean allowedLinkHosts? Rename it.',
      'options key 3 is not an option; did you mean allowTags? Rename it.',
      'options.limits key 1 is not a limit; did you mean maxOutputChars? Rename it.',
      'options.limits key 2 is not a limit; did you mean maxInputBytes? Rename it.',
    ]);
  });

  it('refuses a key that is not an option without quoting it, at the top level, in limits and in allowClasses', () => {
    const error = catchError(() =>
      createSanitizer({
        SECRETVALUE: true,
        'allowTags\u001b[31m': ['p'],
        ['x'.repeat(70)]: 1,
        [Symbol('SECRET')]: 1,
        limits: { SECRETLIMIT: 5, nestingLimit: 10 },
        allowClasses: { 'SECRET KEY': ['x'], p: ['ok'] },
        allowAttributes: { 'SECRET-KEY\n': ['title'] },
      } as never),
    );
    expect(error.problems).toEqual([
      "options.allowAttributes has a key that is not an allowed element name; use an element name or '*'.",
      "options.allowClasses has a key that is not an allowed element name; use an element name or '*'.",
      'options key 1 is a key that is not an option; remove it (see the options table in the README).',
      'options key 2 is a key that is not an option; remove it (see the options table in the README).',
      'options key 3 is a key that is not an option; remove it (see the options table in the README).',
      'options key 7 is a key that is not an option; remove it (see the options table in the README).',
      'options.limits key 1 is a key that is not a limit; remove it (see the options table in the README).',
    ]);
    expect(error.message).not.toMatch(/SECRET|xxx/);
    expect(error.message).not.toContain('\u001b');
  });

  it('refuses options that are not an object with a typed error, not a TypeError', () => {
    for (const options of [null, 5, 'ugc', ['ugc']]) {
      expect(catchError(() => createSanitizer(options as never)).problems).toEqual([
        "options must be an object such as { preset: 'ugc' } (or nothing, for ugc's defaults).",
      ]);
    }
  });

  it('refuses limits that are not an object', () => {
    expect(catchError(() => createSanitizer({ limits: 5 } as never)).problems).toEqual([
      'options.limits must be an object of limits.',
    ]);
  });

  it('accepts every documented option and limit, and an own __proto__ key is not one', () => {
    expect(() =>
      createSanitizer({
        preset: 'email',
        allowTags: ['mark'],
        allowAttributes: { '*': ['title'] },
        allowClasses: { '*': ['x-*'] },
        allowCssProperties: ['color'],
        allowSchemes: ['xmpp'],
        allowDataImages: false,
        allowRemoteImages: false,
        allowRelativeUrls: false,
        allowedLinkHosts: ['e.com'],
        allowedImageHosts: ['e.com'],
        rewriteUrl: () => undefined,
        linkRel: ['noopener'],
        targetBlank: 'all',
        limits: {
          maxInputBytes: 10,
          nestingLimit: 10,
          maxOutputChars: 100,
          maxAttributeLength: 10,
          maxAttributesPerElement: 10,
          maxUrlLength: 10,
          maxDataUrlLength: 10,
        },
        verify: 'strict',
        truncationMarker: '…',
      }),
    ).not.toThrow();
    expect(catchError(() => createSanitizer(JSON.parse('{"__proto__": {"preset": "text"}}'))).problems).toEqual([
      'options key 1 is a key that is not an option; remove it (see the options table in the README).',
    ]);
  });

  it('refuses input larger than maxInputBytes before parsing, counting UTF-8 bytes', () => {
    const s = createSanitizer({ limits: { maxInputBytes: 100 } });
    expect(catchError(() => s.sanitize('é'.repeat(51))).code).toBe('ERR_SANITIZE_INPUT_TOO_LARGE');
    expect(s.sanitize('é'.repeat(50)).html).toBe('é'.repeat(50));
    expect(catchError(() => s.sanitize(42 as unknown as string)).code).toBe('ERR_SANITIZE_INVALID_INPUT');
  });

  it('never puts the configured input limit in the too-large message', () => {
    const s = createSanitizer({ limits: { maxInputBytes: 12345 } });
    const error = catchError(() => s.sanitize('x'.repeat(12346)));
    expect(error.code).toBe('ERR_SANITIZE_INPUT_TOO_LARGE');
    expect(error.message).toContain('limits.maxInputBytes');
    expect(error.message).not.toContain('12345');
  });

  it('reports what it removed and why, by name only', () => {
    const result = bySet.ugc.sanitize(
      '<script>SECRET</script><p onclick="SECRET()" style="color:red">x<a href="javascript:SECRET">y</a></p><!-- SECRET -->',
    );
    expect(result.html).toBe('<p>x<a>y</a></p>');
    const names = result.removed.map((r) => `${r.kind}:${r.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'element:script',
        'attribute:p[onclick]',
        'attribute:p[style]',
        'url:a[href]',
        'comment:#comment',
      ]),
    );
    expect(JSON.stringify(result.removed)).not.toMatch(/SECRET/);
  });

  it('reports names that are safe to log: unknown element and attribute names become (unknown)', () => {
    const long = 'z'.repeat(50_000);
    const result = bySet.email.sanitize(
      `<x\u001b[31msecret-token-abc123 a=1><${long}><secret-token-abc123><p foo\u0007bar=1 data-token-abc123=1 onfoosecret=1 ${long}=1 onclick=1 style="x-secret-token: 1; position: fixed; color: red">x</p><custom-widget>y</custom-widget>`,
    );
    const names = result.removed.map((r) => `${r.kind}:${r.name}`);
    expect(names).toEqual([
      'element:(unknown)',
      'element:(unknown)',
      'element:(unknown)',
      'attribute:p[(unknown)]',
      'attribute:p[data-*]',
      'attribute:p[on*]',
      'attribute:p[(unknown)]',
      'attribute:p[onclick]',
      'css:(unknown)',
      'css:position',
      'element:(unknown)',
    ]);
    expect(JSON.stringify(result.removed)).not.toMatch(/secret|token|zzz|\\u001b|\\u0007/);
  });

  it('adds noopener noreferrer to any target and nofollow ugc to UGC links', () => {
    expect(sanitizeHtml('<a href="https://e.com/x" target="_blank">x</a>')).toBe(
      '<a href="https://e.com/x" target="_blank" rel="nofollow ugc noopener noreferrer">x</a>',
    );
    expect(sanitizeHtml('<a href="/x" target="_top">x</a>', 'minimal')).toBe('<a href="/x" rel="nofollow ugc">x</a>');
    expect(email.sanitizeToString('<a href="https://e.com/">x</a>')).toBe(
      '<a href="https://e.com/" target="_blank" rel="noopener noreferrer">x</a>',
    );
    const external = createSanitizer({ targetBlank: 'external' });
    expect(external.sanitizeToString('<a href="/in">a</a><a href="https://e.com/">b</a>')).toBe(
      '<a href="/in" rel="nofollow ugc">a</a><a href="https://e.com/" target="_blank" rel="nofollow ugc noopener noreferrer">b</a>',
    );
  });

  it('verifies the tree a <div> builds, as innerHTML does: stray table parts are dropped, not kept', () => {
    // parse5 without a context parses as <template> content, where a lone <td> survives.
    expect(sanitizeHtml('<td title="a">x</td><tr><td>y</td></tr>')).toBe('xy');
    expect(sanitizeHtml('<table><td>x</td></table>')).toBe('<table><tbody><tr><td>x</td></tr></tbody></table>');
  });

  it('drops relative URLs in email, which could only point at the application showing it', () => {
    const mail = createSanitizer({ preset: 'email', allowRemoteImages: true });
    expect(
      mail.sanitizeToString(
        '<img src="/api/account/delete?id=1" srcset="logout 2x"><a href="/settings/forward?to=x">a</a><a href="#top">b</a>',
      ),
    ).toBe('<img /><a>a</a><a href="#user-content-top">b</a>');
    // A same-page link is not forced into a new tab, which would load the page again.
    expect(mail.sanitizeToString('<a href="#top">b</a><a href="https://e.com/">c</a>')).toBe(
      '<a href="#user-content-top">b</a><a href="https://e.com/" target="_blank" rel="noopener noreferrer">c</a>',
    );
    expect(createSanitizer({ preset: 'email', allowRelativeUrls: true }).sanitizeToString('<a href="/x">a</a>')).toBe(
      '<a href="/x" target="_blank" rel="noopener noreferrer">a</a>',
    );
    expect(createSanitizer({ allowRelativeUrls: false }).sanitizeToString('<a href="/x">a</a><a href="#y">b</a>')).toBe(
      '<a>a</a><a href="#user-content-y" rel="nofollow ugc">b</a>',
    );
  });

  it('defends against DOM clobbering: drops name, prefixes ids and same-page fragments once', () => {
    const out = sanitizeHtml('<a name="cookie" id="x" href="#x">a</a><h2 id="user-content-y">b</h2>');
    expect(out).toBe(
      '<a id="user-content-x" href="#user-content-x" rel="nofollow ugc">a</a><h2 id="user-content-y">b</h2>',
    );
  });

  it('keeps only allowlisted CSS in the email preset and routes url() through the hook', () => {
    const out = email.sanitizeToString(
      '<table><tr><td style="color:red; position:fixed; z-index:99; background-image:url(https://t.example/a.png); width: expression(alert(1)); margin:-500px">x</td></tr></table>',
    );
    expect(out).toBe(
      `<table><tbody><tr><td style="color: red; background-image: url(&quot;${PROXY}https%3A%2F%2Ft.example%2Fa.png&quot;)">x</td></tr></tbody></table>`,
    );
    const noHook = createSanitizer({ preset: 'email' });
    expect(noHook.sanitizeToString('<p style="background:url(https://t.example/a.png) red">x</p>')).toBe('<p>x</p>');
  });

  it('drops remote images unless a hook, a host allowlist or allowRemoteImages decides', () => {
    const input = '<img src="https://t.example/p.gif" srcset="https://t.example/p.gif 1x, /a.png 2x" alt="a">';
    expect(sanitizeHtml(input)).toBe('<img srcset="/a.png 2x" alt="a" />');
    expect(createSanitizer({ allowRemoteImages: true }).sanitizeToString(input)).toBe(
      '<img src="https://t.example/p.gif" srcset="https://t.example/p.gif 1x, /a.png 2x" alt="a" />',
    );
    expect(createSanitizer({ allowedImageHosts: ['*.example'] }).sanitizeToString(input)).toBe(
      '<img src="https://t.example/p.gif" srcset="https://t.example/p.gif 1x, /a.png 2x" alt="a" />',
    );
  });

  it('outputs text only with the text preset', () => {
    expect(sanitizeHtml('<p>a <b>b</b> <img src=x onerror=alert(1)>&lt;c&gt;</p>', 'text')).toBe('a b &lt;c&gt;');
  });

  it('truncates output well-formed: never inside a tag or entity, open elements closed', () => {
    const s = createSanitizer({ limits: { maxOutputChars: 60 } });
    const input = `<p>${'a &amp; b '.repeat(20)}</p><ul><li>x</li></ul>`;
    const result = s.sanitize(input);
    expect(result.truncated).toBe(true);
    expect(result.html.length).toBeLessThanOrEqual(60);
    expect(result.html).toMatch(/…<\/p>$/);
    expect(result.html).not.toMatch(/&(?!amp;)/);
    expect(serializeChildren(parseFragment(result.html)).html).toBe(result.html);
    for (let max = 9; max < 120; max += 7) {
      const out = createSanitizer({ limits: { maxOutputChars: max } }).sanitizeToString(
        '<div><p>héllo <a href="https://e.com/">wörld 😀 &lt;&gt;</a></p><table><tr><td>c</td></tr></table></div>',
      );
      expect(out.length).toBeLessThanOrEqual(max);
      expect(serializeChildren(parseFragment(out)).html).toBe(out);
    }
  });

  it('does not cut output that fits maxOutputChars exactly, so truncated output sanitizes to itself', () => {
    const s = createSanitizer({ limits: { maxOutputChars: 60 } });
    expect(s.sanitize('a'.repeat(60))).toMatchObject({ html: 'a'.repeat(60), truncated: false });
    const once = s.sanitize(`<p>${'a'.repeat(100)}</p>`);
    expect(once).toMatchObject({ html: `<p>${'a'.repeat(52)}…</p>`, truncated: true });
    expect(s.sanitize(once.html)).toMatchObject({ html: once.html, truncated: false });
  });

  it('keeps truncated pre blocks stable and refuses a budget smaller than the marker', () => {
    for (let max = 9; max < 40; max++) {
      const result = createSanitizer({ limits: { maxOutputChars: max } }).sanitize(
        '<pre>\n\nabc def ghi jkl</pre><p>x</p>',
      );
      expect(result.failedClosed).toBe(false);
      expect(result.html.length).toBeLessThanOrEqual(max);
    }
    expect(catchError(() => createSanitizer({ limits: { maxOutputChars: 3 } })).code).toBe(
      'ERR_SANITIZE_INVALID_OPTIONS',
    );
  });

  it('keeps fail-closed text within maxOutputChars, counting the characters escaping adds', () => {
    for (const [max, marker] of [
      [50, undefined],
      [50, '[more]'],
      [9, undefined],
      [23, undefined],
      [64, '...'],
    ] as const) {
      const s = createSanitizer({
        limits: { maxOutputChars: max },
        ...(marker === undefined ? {} : { truncationMarker: marker }),
      });
      for (const text of ['&amp;'.repeat(200), '&lt;b&gt;x'.repeat(100), `a${'&lt;'.repeat(300)}`]) {
        const result = s.sanitize('<b>'.repeat(1100) + text);
        expect(result).toMatchObject({ failedClosed: true, truncated: true });
        expect(result.html.length).toBeLessThanOrEqual(max);
        expect(result.html.endsWith(marker ?? '…')).toBe(true);
        expect(result.html).not.toMatch(/&(?!amp;|lt;|gt;)/);
      }
    }
    const short = createSanitizer({ limits: { maxOutputChars: 50 } }).sanitize(`${'<b>'.repeat(1100)}a &amp; b`);
    expect(short).toMatchObject({ html: 'a &amp; b', failedClosed: true, truncated: false });
  });

  it('unwraps elements nested deeper than nestingLimit', () => {
    const s = createSanitizer({ limits: { nestingLimit: 10 } });
    const out = s.sanitizeToString(`${'<div>'.repeat(50)}x${'</div>'.repeat(50)}`);
    expect(out).toBe(`${'<div>'.repeat(10)}x${'</div>'.repeat(10)}`);
    const result = s.sanitize(`${'<div>'.repeat(12)}<br>x${'</div>'.repeat(12)}<p>after</p>`);
    expect(result.removed.filter((r) => r.kind === 'limit').map((r) => r.name)).toEqual(['div', 'div', 'br']);
    expect(result.html.endsWith('<p>after</p>')).toBe(true);
  });

  it('fails closed to escaped text, with a reason, when the output is not a fixpoint', () => {
    let n = 0;
    const s = createSanitizer({ verify: 'strict', rewriteUrl: () => `https://p.example/${n++}` });
    const result = s.sanitize('<p>hi <img src="https://e.com/a.png"> &lt;there&gt;</p>');
    expect(result.failedClosed).toBe(true);
    expect(result.failure).toMatch(/idempotent/);
    expect(result.html).toBe('hi  &lt;there&gt;');
    expect(result.removed.at(-1)?.kind).toBe('verification');
  });

  it('drops a URL when rewriteUrl throws, and survives a hook that sanitizes re-entrantly', () => {
    const throwing = createSanitizer({
      rewriteUrl: () => {
        throw new Error('proxy down');
      },
    });
    expect(throwing.sanitize('<img src="https://e.com/a.png" alt="a">').html).toBe('<img alt="a" />');
    const inner = createSanitizer({ preset: 'text' });
    const reentrant = createSanitizer({
      rewriteUrl: (url) => (inner.sanitizeToString('<b>x</b>') === 'x' ? url : null),
    });
    const result = reentrant.sanitize('<p onclick="x">a</p><img src="https://e.com/a.png" onerror="y">');
    expect(result.html).toBe('<p>a</p><img src="https://e.com/a.png" />');
    expect(result.removedCount).toBe(2);
  });

  it('unwraps rt and rp outside ruby, which htmlparser2 and a browser nest differently', () => {
    const strict = (preset: 'ugc' | 'email') => createSanitizer({ preset, verify: 'strict' });
    for (const [preset, input, expected] of [
      ['ugc', '<rp><font><rt>', ''],
      ['email', '<rp><tbody><rp>', ''],
      ['ugc', '<rp>(<font><rt>kan</rt></font>)</rp>', '(kan)'],
      ['ugc', '<ruby><table><tr><td><rp><font><rt>x', '<ruby><table><tbody><tr><td>x</td></tr></tbody></table></ruby>'],
      ['ugc', '<ruby><b><rt>x</rt></b></ruby>', '<ruby><b>x</b></ruby>'],
      ['ugc', '<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>', '<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>'],
      ['ugc', '<ruby>漢<rp>(<font><rt>kan', '<ruby>漢<rp>(</rp><rt>kan</rt></ruby>'],
    ] as const) {
      const once = bySet[preset].sanitize(input);
      expect(once.failedClosed).toBe(false);
      expect(once.html).toBe(expected);
      expect(bySet[preset].sanitizeToString(once.html)).toBe(once.html);
      const checked = strict(preset).sanitize(input);
      expect(checked.failure).toBeUndefined();
      expect(checked.html).toBe(expected);
    }
  });

  it('caps table and image spacing attributes and box sizes in email, reporting what it drops', () => {
    const result = email.sanitize(
      '<table cellpadding="999" cellspacing="60" border="51" width="9999" height="1001"><tr><td width="101%">a</td></tr></table><img hspace="999" vspace="51" width="1001" alt="x">',
    );
    expect(result.html).toBe('<table><tbody><tr><td>a</td></tr></tbody></table><img alt="x" />');
    expect(result.removed.map((r) => r.name).sort()).toEqual(
      [
        'img[hspace]',
        'img[vspace]',
        'img[width]',
        'table[border]',
        'table[cellpadding]',
        'table[cellspacing]',
        'table[height]',
        'table[width]',
        'td[width]',
      ].sort(),
    );
    const kept =
      '<table width="600" cellpadding="20" cellspacing="0" border="1"><tbody><tr><td width="100%" height="1000">a</td></tr></tbody></table>';
    expect(email.sanitizeToString(kept)).toBe(kept);
    expect(email.sanitizeToString('<img width="1000" height="50%" hspace="50" vspace="0" />')).toBe(
      '<img width="1000" height="50%" hspace="50" vspace="0" />',
    );
    // An hr of 999 px pushes what follows out of a reading pane; font sizes are 1–7 (or ±n).
    expect(email.sanitizeToString('<hr size="999" /><p>a</p>')).toBe('<hr /><p>a</p>');
    expect(email.sanitizeToString('<hr size="2" /><font size="+2">a</font>')).toBe(
      '<hr size="2" /><font size="+2">a</font>',
    );
  });

  it('drops rp inside ruby unless it holds only brackets, as a browser hides rp', () => {
    const strict = (preset: 'ugc' | 'email') => createSanitizer({ preset, verify: 'strict' });
    for (const preset of ['ugc', 'email'] as const) {
      const hidden = bySet[preset].sanitize('Meeting moved.<ruby><rp>SECRET</rp></ruby>');
      expect(hidden.html).toBe('Meeting moved.<ruby></ruby>');
      expect(hidden.removed).toContainEqual({
        kind: 'element',
        name: 'rp',
        reason: 'rp holds text a browser hides (only brackets are kept)',
      });
      for (const [input, expected] of [
        ['<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>', '<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>'],
        ['<ruby>漢<rp>（</rp><rt>kan</rt><rp> ） </rp></ruby>', '<ruby>漢<rp>（</rp><rt>kan</rt><rp> ） </rp></ruby>'],
        ['<ruby>漢<rp><b>(</b></rp><rt>kan</rt></ruby>', '<ruby>漢<rp><b>(</b></rp><rt>kan</rt></ruby>'],
        ['<ruby>漢<rp>(<b>pay now</b>)</rp><rt>kan</rt></ruby>', '<ruby>漢<rt>kan</rt></ruby>'],
        ['<ruby>漢<rt>kan</rt><rp>x</rp></ruby>', '<ruby>漢<rt>kan</rt></ruby>'],
      ] as const) {
        const once = bySet[preset].sanitizeToString(input);
        expect(once).toBe(expected);
        expect(bySet[preset].sanitizeToString(once)).toBe(once);
        expect(strict(preset).sanitize(input).failure).toBeUndefined();
      }
      expect(bySet[preset].toPlainText('Meeting moved.<ruby><rp>SECRET</rp></ruby>')).toBe('Meeting moved.');
      expect(bySet[preset].toPlainText('<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>')).toBe('漢kan');
    }
  });

  it('closes bidi embeddings and isolates left open, so they cannot reorder text after the output', () => {
    const ugc = bySet.ugc;
    expect(ugc.sanitizeToString('<p>nice post</p>thanks \u202E')).toBe('<p>nice post</p>thanks \u202E\u202C');
    expect(ugc.sanitizeToString('<p>a\u202Bb</p><p>c\u2067d<b>e\u202A</b></p>x')).toBe(
      '<p>a\u202Bb\u202C</p><p>c\u2067d<b>e\u202A</b>\u202C\u2069</p>x',
    );
    // A PDF inside an isolating element (bdi) cannot close an embedding outside it.
    // ... and, closing nothing at its level, it is removed.
    expect(ugc.sanitizeToString('\u202E<bdi>\u202C</bdi>')).toBe('\u202E<bdi></bdi>\u202C');
    // Balanced controls are left alone; closing is idempotent.
    for (const input of [
      '<p>\u202Bעברית\u202C and \u2068x\u2069</p>',
      '<ul><li>\u202Ea</li></ul><table><tr><td>\u2066b</td></tr></table>\u202D',
      '<p>\u202E<b>x\u202C</b></p>',
      '<pre>\u202Ex\ny</pre>',
    ]) {
      const once = ugc.sanitizeToString(input);
      expect(ugc.sanitizeToString(once)).toBe(once);
      expect(createSanitizer({ verify: 'strict' }).sanitize(input).failure).toBeUndefined();
    }
    expect(ugc.sanitizeToString('<p>\u202Bעברית\u202C</p>')).toBe('<p>\u202Bעברית\u202C</p>');
    // Truncation never leaves a control open: it drops the opener instead of growing the output.
    const cut = createSanitizer({ limits: { maxOutputChars: 20 } }).sanitize(`<p>\u202E${'x'.repeat(40)}\u202C</p>`);
    expect(cut.truncated).toBe(true);
    expect(cut.html.length).toBeLessThanOrEqual(20);
    expect(cut.html).not.toMatch(/[\u202A-\u202E\u2066-\u2068]/);
    // Fail-closed text too.
    const failed = createSanitizer().sanitize(`${'<b>'.repeat(2000)}\u202Ex`);
    expect(failed.failedClosed).toBe(true);
    expect(failed.html).toBe('x');
  });

  it('balances hundreds of thousands of bidi openers without overflowing the call stack', () => {
    const n = 200_000;
    const input = `<p><b>${'\u202E'.repeat(n)}</b></p>`;
    const expected = `<p><b>${'\u202E'.repeat(n)}</b>${'\u202C'.repeat(n)}</p>`;
    expect(bySet.ugc.sanitizeToString(input)).toBe(expected);
    expect(sanitizeHtml(input)).toBe(expected);
    const cut = createSanitizer({ limits: { maxOutputChars: 1000 } }).sanitize(input);
    expect(cut.truncated).toBe(true);
    expect(cut.html).not.toMatch(/[\u202A-\u202E\u2066-\u2068]/);
    expect(toPlainText(input)).toBe(`${'\u202E'.repeat(n)}${'\u202C'.repeat(n)}`);
  }, 20_000);

  // Not timed (speed is measured in benchmarks): every PDI searched the whole stack of open
  // embeddings for an isolate, which took seconds; the test timeout is the safety net.
  it('pairs bidi closers in linear time when many embeddings are open and no isolate is', () => {
    const n = 40_000;
    const input = `<p>${'\u202A'.repeat(n)}${'\u2069'.repeat(n)}</p>`;
    expect(bySet.ugc.sanitizeToString(input)).toBe(`<p>${'\u202A'.repeat(n)}${'\u202C'.repeat(n)}</p>`);
    expect(toPlainText(input)).toBe(`${'\u202A'.repeat(n)}${'\u202C'.repeat(n)}`);
    // The cut keeps 9 closers; the openers they do not close are dropped.
    expect(toPlainText(input, { maxChars: n + 10 })).toBe(`${'\u202A'.repeat(9)}${'\u202C'.repeat(9)}…`);
    const failed = createSanitizer().sanitize(`${'<b>'.repeat(2000)}${'\u202A'.repeat(n)}${'\u2069'.repeat(n)}x`);
    expect(failed.failedClosed).toBe(true);
    expect(failed.html).toBe('x');
  }, 10_000);

  it('removes bidi closers that close nothing, so the output cannot close the page isolate around it', () => {
    const ugc = bySet.ugc;
    expect(ugc.sanitizeToString('\u2069\u05d0')).toBe('\u05d0');
    expect(ugc.sanitizeToString('\u202c\u2069\u05d0')).toBe('\u05d0');
    expect(ugc.sanitizeToString('<p><b>\u2069x</b>\u202c</p>')).toBe('<p><b>x</b></p>');
    // An isolate opened and closed at one level keeps both; a PDI closes the embeddings inside it.
    expect(ugc.sanitizeToString('\u2067\u202bx\u2069\u202c')).toBe('\u2067\u202bx\u2069');
    expect(ugc.sanitizeToString('<b>\u2067</b>\u2069')).toBe('<b>\u2067</b>\u2069');
    // Truncated output and fail-closed text too.
    const cut = createSanitizer({ limits: { maxOutputChars: 20 } }).sanitize(`<p>\u2069${'x'.repeat(40)}</p>`);
    expect(cut.truncated).toBe(true);
    expect(cut.html).not.toContain('\u2069');
    const failed = createSanitizer().sanitize(`${'<b>'.repeat(2000)}\u2069\u202cx`);
    expect(failed.failedClosed).toBe(true);
    expect(failed.html).toBe('x');
    expect(ugc.toPlainText('\u2069\u05d0')).toBe('\u05d0');
  });

  it('pairs a bidi closer inside a non-isolating element with the opener before it, as a browser does', () => {
    const ugc = bySet.ugc;
    // <b>, <i>, <a>, <span> without dir do not isolate: the PDI inside <b> closes the RLI before it.
    for (const input of [
      '<p>\u2067שלום <b>עולם\u2069</b> - 12 replies</p>',
      '<p>\u202bשלום <b>עולם\u202c</b> - 12 replies</p>',
      '\u2067שלום <i><a href="https://a.example/" rel="nofollow ugc">עולם <span>x\u2069</span></a></i> - 12 replies',
      '<p>\u2067a <b>b</b> <i>c\u202bd</i> e\u202c f\u2069 g</p>',
    ]) {
      expect(ugc.sanitizeToString(input)).toBe(input);
    }
    expect(ugc.toPlainText('<p>\u2067שלום <b>עולם\u2069</b> - 12 replies</p>')).toBe(
      '\u2067שלום עולם\u2069 - 12 replies',
    );
    // Isolating elements (bdi, any dir, an inline-block) still start with nothing open: a closer in
    // them closes nothing outside, and is removed; what they leave open is closed at their end.
    expect(ugc.sanitizeToString('<p>\u2067a <bdi>b\u2069</bdi> c</p>')).toBe('<p>\u2067a <bdi>b</bdi> c\u2069</p>');
    expect(ugc.sanitizeToString('<p>\u2067a <b dir="rtl">b\u2069</b> c</p>')).toBe(
      '<p>\u2067a <b dir="rtl">b</b> c\u2069</p>',
    );
    expect(
      createSanitizer({ preset: 'email' }).sanitizeToString(
        '<p>\u2067a <span style="display: inline-block">b\u2069</span> c</p>',
      ),
    ).toBe('<p>\u2067a <span style="display: inline-block">b</span> c\u2069</p>');
    expect(ugc.sanitizeToString('a <bdi>\u2067b</bdi> c')).toBe('a <bdi>\u2067b\u2069</bdi> c');
    expect(ugc.sanitizeToString('a <b dir="ltr">\u202eb</b> c')).toBe('a <b dir="ltr">\u202eb\u202c</b> c');
    // Truncated output (cut inside the isolate) drops the opener instead.
    const cut = createSanitizer({ limits: { maxOutputChars: 20 } }).sanitize(`a <bdi>\u2067${'b'.repeat(40)}</bdi>`);
    expect(cut.truncated).toBe(true);
    expect(cut.html).toMatch(/^a <bdi>b+/);
    expect(cut.html).not.toMatch(/[\u2066-\u2069]/);
  });

  it('pairs tens of thousands of bidi controls across non-isolating elements in linear time', () => {
    const n = 20_000;
    const input = `<p>${'\u2067x<b>y\u2069</b>'.repeat(n)}</p>`;
    expect(bySet.ugc.sanitizeToString(input)).toBe(input);
    const nested = `<p>${'\u202b<b>'.repeat(50)}x${'\u202c</b>'.repeat(50)}</p>`.repeat(n / 50);
    expect(bySet.ugc.sanitizeToString(nested)).toBe(nested);
    const open = `<p>${'<b>\u2067</b>'.repeat(n)}</p>`;
    expect(bySet.ugc.sanitizeToString(open)).toBe(`<p>${'<b>\u2067</b>'.repeat(n)}${'\u2069'.repeat(n)}</p>`);
  }, 20_000);

  it('removes hundreds of thousands of stray bidi closers in linear time', () => {
    const n = 200_000;
    for (const closer of ['\u2069', '\u202c']) {
      expect(bySet.ugc.sanitizeToString(`<p><b>${closer.repeat(n)}x</b></p>`)).toBe('<p><b>x</b></p>');
      expect(sanitizeHtml(`${closer.repeat(n)}x`)).toBe('x');
      const failed = createSanitizer().sanitize(`${'<b>'.repeat(2000)}${closer.repeat(n)}x`);
      expect(failed.failedClosed).toBe(true);
      expect(failed.html).toBe('x');
      expect(toPlainText(`${closer.repeat(n)}x`, { maxChars: 10 })).toBe('x');
    }
  }, 20_000);

  it('drops an attribute that normalization grows past its cap instead of failing closed', () => {
    const ugc = bySet.ugc;
    // Percent-encoding makes each Cyrillic letter six characters: 700 of them exceed maxUrlLength.
    const long = ugc.sanitize(`<a href="https://ru.wikipedia.org/wiki/${'Б'.repeat(700)}">this</a>`);
    expect(long.failedClosed).toBe(false);
    expect(long.html).toBe('<a>this</a>');
    expect(long.removed).toContainEqual({ kind: 'url', name: 'a[href]', reason: 'URL too long' });
    // Within the cap once encoded, the link is kept.
    const short = ugc.sanitize(`<a href="https://ru.wikipedia.org/wiki/${'Б'.repeat(600)}">this</a>`);
    expect(short.failedClosed).toBe(false);
    expect(short.html).toContain('href="https://ru.wikipedia.org/wiki/%D0%91');
    // `color:red;` becomes `color: red; `: 3800 characters grow past maxAttributeLength (4096).
    const styled = bySet.email.sanitize(`<p style="${'color:red;'.repeat(380)}">x</p>`);
    expect(styled.failedClosed).toBe(false);
    expect(styled.html).toBe('<p>x</p>');
    expect(styled.removed).toContainEqual({
      kind: 'limit',
      name: 'p[style]',
      reason: 'attribute value too long once normalized',
    });
    const kept = bySet.email.sanitize(`<p style="${'color:red;'.repeat(300)}">x</p>`);
    expect(kept.failedClosed).toBe(false);
    expect(kept.html).toContain('style="color: red; color: red;');
    // A rewriteUrl hook that lengthens URLs: srcset and style url() are capped after it too.
    const growing = createSanitizer({
      preset: 'email',
      allowedImageHosts: ['proxy.test'],
      rewriteUrl: (url) => (url.startsWith(PROXY) ? undefined : `${PROXY}${encodeURIComponent(url)}`),
    });
    const srcset = Array.from({ length: 40 }, (_, i) => `https://cdn.test/${'a'.repeat(60)}${i}.png ${i + 1}x`);
    const img = growing.sanitize(`<img srcset="${srcset.join(', ')}">`);
    expect(img.failedClosed).toBe(false);
    expect(img.html).toBe('<img />');
    const bg = growing.sanitize(`<td style="background-image: url(https://cdn.test/${'a/'.repeat(1900)})">x</td>`);
    expect(bg.failedClosed).toBe(false);
    expect(bg.html).not.toContain('style');
  });

  it('adds the table parts the parser implies when allowTags adds tables', () => {
    const s = createSanitizer({ preset: 'minimal', allowTags: ['table', 'tr', 'td', 'th'] });
    const result = s.sanitize('<table><tr><th>h</th><td>x</td></tr></table>');
    expect(result.failedClosed).toBe(false);
    expect(result.html).toBe('<table><tbody><tr><th>h</th><td>x</td></tr></tbody></table>');
    const cols = createSanitizer({ preset: 'minimal', allowTags: ['table', 'col', 'td'] });
    const withCols = cols.sanitize('<table><col><td>x</td></table>');
    expect(withCols.failedClosed).toBe(false);
    expect(withCols.html).toBe('<table><colgroup><col /></colgroup><tbody><tr><td>x</td></tr></tbody></table>');
  });

  it('opens every details element, so the reader sees the text filters and toPlainText read', () => {
    const input = '<details><summary>Invoice</summary>HIDDENTEXT</details>';
    for (const s of [
      bySet.ugc,
      bySet.email,
      createSanitizer({ preset: 'minimal', allowTags: ['details', 'summary'] }),
    ]) {
      const result = s.sanitize(input);
      expect(result.failedClosed).toBe(false);
      expect(result.html).toBe('<details open><summary>Invoice</summary>HIDDENTEXT</details>');
      expect(s.sanitizeToString(result.html)).toBe(result.html);
    }
    expect(bySet.ugc.sanitizeToString('<details open="OPEN" title="t">x</details>')).toBe(
      '<details open title="t">x</details>',
    );
    expect(createSanitizer({ verify: 'strict' }).sanitize(input).failure).toBeUndefined();
  });

  it('keeps content that table foster parenting nested where its own start tag cannot, in the form a browser re-parses to', () => {
    // A browser moves what stands in a table outside its cells to before the table, inside the
    // table's parent; a heading, li, dd/dt or a moved there ends up inside its own kind, which
    // written out and parsed again closes the outer one instead.
    const strict = createSanitizer({ verify: 'strict' });
    for (const [input, expected] of [
      ['<h1><table><h1>x</table>', '<h1></h1><h1>x</h1><table></table>'],
      ['<h2><table><h1>x</h1></table>after</h2>', '<h2></h2><h1>x</h1><table></table>after'],
      ['<ul><li><table><li>x</table></ul>', '<ul><li></li><li>x</li><table></table></ul>'],
      ['<dl><dd><table><dt>x</table></dl>', '<dl><dd></dd><dt>x</dt><table></table></dl>'],
      [
        '<a href="#a"><table><a href="#b">x</table>',
        '<a href="#user-content-a" rel="nofollow ugc"></a><a href="#user-content-b" rel="nofollow ugc">x</a><table></table>',
      ],
    ] as const) {
      for (const s of [bySet.ugc, strict]) {
        const result = s.sanitize(input);
        expect(result, input).toMatchObject({ html: expected, failedClosed: false });
        expect(serializeChildren(parseFragment(result.html)).html).toBe(result.html);
        expect(s.sanitizeToString(result.html)).toBe(result.html);
      }
    }
  });

  it('truncates content that foster parenting nested in the same re-parse-stable form', () => {
    const s = createSanitizer({ limits: { maxOutputChars: 40 } });
    const result = s.sanitize(`<h1><table><h1>${'x'.repeat(60)}</table>`);
    expect(result).toMatchObject({ failedClosed: false, truncated: true });
    expect(result.html).toBe(`<h1></h1><h1>${'x'.repeat(21)}…</h1>`);
    expect(s.sanitizeToString(result.html)).toBe(result.html);
  });

  it('cuts the re-parse-stable form, so a cut that adoption agency clones would grow never fails closed', () => {
    // The first parse leaves a, b or s open around foster-parented content; cut before re-parsing,
    // the browser clones them into the cut and it grows past the limit.
    const s = createSanitizer({ limits: { maxOutputChars: 50 } });
    for (const [input, expected] of [
      ['<a><ol><dl><col><dd><caption></b><table></h1><tr><a>', '<a></a><ol><a></a><dl><a></a><dd>…</dd></dl></ol>'],
      [
        '<dl></tr><ruby><caption></ul></rt><li><s></ul><table>\n<li>',
        '<dl><ruby><li><s></s></li><li></li>…</ruby></dl>',
      ],
      ['<tr><tbody><blockquote><a>\u2067<table><b></nobr><a>', '<blockquote><a><b></b></a><b>…</b></blockquote>'],
    ] as const) {
      const result = s.sanitize(input);
      expect(result, input).toMatchObject({ html: expected, failedClosed: false, truncated: true });
      expect(result.html.length).toBeLessThanOrEqual(50);
      expect(serializeChildren(parseInFlowContainer(result.html)).html).toBe(result.html);
      expect(s.sanitizeToString(result.html)).toBe(result.html);
    }
  });

  it('cuts before an rp that would hide the marker, so no rp is dropped for it', () => {
    const s = createSanitizer({
      allowTags: ['ruby', 'rt', 'rp'],
      limits: { maxOutputChars: 40 },
      truncationMarker: 'more',
    });
    const result = s.sanitize('<ruby><dd><rp><a><rt></table><li></table>');
    // The marker used to land inside the rp, which then held more than brackets and was dropped with it.
    expect(result).toMatchObject({ html: '<ruby><dd></dd>more</ruby>', failedClosed: false, truncated: true });
    expect(result.removed.filter((removal) => removal.name === 'rp')).toHaveLength(0);
  });

  it('strict verification passes for idempotent configurations', () => {
    const s = createSanitizer({ verify: 'strict' });
    const result = s.sanitize('<table><tr><td><a href="#a" id="a">x</a></td></tr></table><pre>\n\ny</pre>');
    expect(result.failedClosed).toBe(false);
  });
});

describe('toPlainText', () => {
  it('turns blocks into paragraphs, lists into items and links into text (url)', () => {
    expect(
      toPlainText(
        '<h1>Hi</h1><p>Hello <a href="https://example.com">site</a> &amp; <b>you</b><br>next</p><ol><li>one</li><li>two</li></ol><script>x</script>',
      ),
    ).toBe('Hi\n\nHello site (https://example.com/) & you\nnext\n\n1. one\n2. two');
  });

  it('numbers ordered lists as a browser does: reversed, start and li value', () => {
    expect(toPlainText('<ol reversed><li>a<li>b</ol>')).toBe('2. a\n1. b');
    expect(toPlainText('<ol><li value="10">a</li><li>b</li></ol>')).toBe('10. a\n11. b');
    expect(toPlainText('<ol start="5"><li>a</li><li value="-3">b</li><li>c</li></ol>')).toBe('5. a\n-3. b\n-2. c');
    expect(toPlainText('<ol reversed start="3"><li>a</li><li value="10">b</li><li>c</li></ol>')).toBe(
      '3. a\n10. b\n9. c',
    );
    // Only li elements count (not nested ol items), and values a browser ignores are ignored.
    expect(toPlainText('<ol reversed><li>a<ol><li>x</li><li>y</li></ol></li><li>b</li></ol>')).toBe(
      '2. a\n  1. x\n  2. y\n1. b',
    );
    const s = createSanitizer({ allowAttributes: { li: ['value'], ol: ['start'] } });
    expect(s.toPlainText('<ol><li value="abc">a</li><li>b</li></ol>')).toBe('1. a\n2. b');
    expect(s.toPlainText('<ol start="999999"><li>a</li><li>b</li></ol>')).toBe('999999. a\n1000000. b');
  });

  it('keeps pre whitespace, collapses the rest and cuts to maxChars', () => {
    expect(toPlainText('<p>a    b\n c</p><pre>x  y\n  z</pre>')).toBe('a b c\n\nx  y\n  z');
    expect(toPlainText('<p>abcdefghij</p>', { maxChars: 5 })).toBe('abcd…');
    expect(toPlainText('<p>abcdefghij</p>', { maxChars: 1 })).toBe('…');
    for (const maxChars of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => toPlainText('<p>abc</p>', { maxChars })).toThrow(
        expect.objectContaining({ code: 'ERR_SANITIZE_INVALID_OPTIONS' }),
      );
    }
  });

  it('closes bidi controls before a link URL and isolates the URL, so link text cannot reorder it', () => {
    expect(toPlainText('<a href="https://evil.example/moc.knab//:sptth">Reset your password \u202E</a>')).toBe(
      'Reset your password \u202E\u202C (\u2068https://evil.example/moc.knab//:sptth\u2069)',
    );
    expect(toPlainText('<p>\u2067<a href="https://a.example/">x</a> tail</p>')).toBe(
      '\u2067x\u2069 (\u2068https://a.example/\u2069) tail',
    );
    // Text without bidi controls or right-to-left letters keeps its plain form.
    expect(toPlainText('<a href="https://a.example/">x</a>')).toBe('x (https://a.example/)');
    expect(toPlainText('<p>\u202Eabcdefghij</p>', { maxChars: 5 })).toBe('abc…');
  });

  // Not timed (speed is measured in benchmarks): stripping blanks before line ends was quadratic on
  // long runs of blanks and took about 40 s here; the test timeout is the safety net.
  it('strips blanks before line ends in linear time, even a long run of blanks inside pre', () => {
    const blanks = ' '.repeat(100_000);
    expect(toPlainText(`<pre>a \t\n${blanks}x  \n y\t</pre><p>z</p>`)).toBe(`a\n${blanks}x\n y\n\nz`);
    expect(toPlainText(`<pre>${blanks}x${blanks}</pre>`)).toBe('x');
  }, 5_000);
});
