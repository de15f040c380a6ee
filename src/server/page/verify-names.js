// In-browser court-bundle verifier, part 2 of 4: holder names as roles.md ("Names") checks and
// compares them, for the registry replay. UTS #39 data come from names-data.js (generated from
// the Unicode crates the Rust verifier uses); normalization, lower case, Alphabetic, White_Space
// and Cc come from the browser's own Unicode data.
(() => {
  const D = PIL_NAMES_DATA;
  const n36 = (s) => parseInt(s, 36);
  // Identifier-allowed characters: sorted runs [start, end, script set].
  const SETS = D.SCX_SETS.map((s) => (s === "Zyyy" || s === "Zinh" ? null : new Set(s.split(" "))));
  const SCX = D.SCX.split(";").filter(Boolean).map((r) => { const [a, b, c] = r.split(",").map(n36); return [a, a + b - 1, c]; });
  const IGN = D.IGNORABLE.split(";").filter(Boolean).map((r) => { const [a, b] = r.split(",").map(n36); return [a, a + b - 1]; });
  const CONF = new Map();
  let last = 0;
  for (const e of D.CONFUSABLES.split(";").filter(Boolean)) {
    const [d, to] = e.split(",");
    last += n36(d);
    CONF.set(last, String.fromCodePoint(...to.split(".").map(n36)));
  }
  function find(runs, cp) {
    let lo = 0, hi = runs.length - 1;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (cp < runs[m][0]) hi = m - 1; else if (cp > runs[m][1]) lo = m + 1; else return runs[m];
    }
    return null;
  }
  // Invisible characters (names.rs, roles.md): bidi controls and default-ignorables.
  const INVISIBLE = [[0xad, 0xad], [0x34f, 0x34f], [0x61c, 0x61c], [0x115f, 0x1160], [0x17b4, 0x17b5], [0x180b, 0x180f],
    [0x200b, 0x200f], [0x2028, 0x202e], [0x2060, 0x206f], [0x3164, 0x3164], [0xfe00, 0xfe0f], [0xfeff, 0xfeff], [0xffa0, 0xffa0],
    [0xfff0, 0xfff8], [0x1bca0, 0x1bca3], [0x1d173, 0x1d17a], [0xe0000, 0xe0fff]];
  const invisible = (cp) => INVISIBLE.some(([a, b]) => cp >= a && cp <= b);
  const control = (c) => /\p{Cc}/u.test(c);
  const alphabetic = (c) => /\p{Alphabetic}/u.test(c);

  // The augmented script set of UTS #39 §5.1: base (null = every script) and Hanb, Jpan, Kore.
  function augmented(base) {
    const all = base === null || base.has("Hani");
    return {
      base,
      hanb: all || base.has("Bopo"),
      jpan: all || base.has("Hira") || base.has("Kana"),
      kore: all || base.has("Hang"),
    };
  }
  const ALL_SCRIPTS = () => ({ base: null, hanb: true, jpan: true, kore: true });
  function intersect(a, b) {
    const base = a.base === null ? b.base : b.base === null ? a.base : new Set([...a.base].filter((x) => b.base.has(x)));
    return { base, hanb: a.hanb && b.hanb, jpan: a.jpan && b.jpan, kore: a.kore && b.kore };
  }
  const isEmpty = (s) => s.base !== null && s.base.size === 0 && !s.hanb && !s.jpan && !s.kore;
  // UTS #39 §5.2: is the string at most "highly restrictive"?
  function highlyRestrictive(s) {
    let ascii = true, set = ALL_SCRIPTS(), excl = ALL_SCRIPTS();
    for (const c of s) {
      const cp = c.codePointAt(0), run = find(SCX, cp);
      if (!run) return false; // not identifier-allowed: unrestricted
      if (cp > 0x7f) ascii = false;
      const cs = augmented(SETS[run[2]]);
      set = intersect(set, cs);
      if (!(cs.base === null || cs.base.has("Latn"))) excl = intersect(excl, cs);
    }
    return ascii || !isEmpty(set) || excl.kore || excl.hanb || excl.jpan;
  }

  // Throws {code, message} as the registry rules refuse a name: missing_field or invalid_name.
  function checkText(field, s, scripts) {
    const refuse = (code, why) => { throw { code, message: field + " " + why }; };
    if (/^\p{White_Space}*$/u.test(s)) refuse("missing_field", "is empty");
    const cps = [...s];
    if (cps.length > 200) refuse("invalid_name", "is longer than 200 characters");
    const bad = cps.find((c) => control(c) || invisible(c.codePointAt(0)));
    if (bad) refuse("invalid_name", "contains the invisible or control character U+" + bad.codePointAt(0).toString(16).toUpperCase().padStart(4, "0"));
    if (scripts) {
      const letters = [...s.normalize("NFKC")].filter(alphabetic).join("");
      if (letters && !highlyRestrictive(letters)) refuse("invalid_name", "mixes scripts that can imitate another name");
    }
  }
  const checkName = (field, s) => checkText(field, s, true);

  function skeleton(s) {
    let out = "";
    for (const c of s.normalize("NFD")) {
      const cp = c.codePointAt(0);
      if (find(IGN, cp)) continue;
      out += CONF.has(cp) ? CONF.get(cp) : c;
    }
    return out.normalize("NFD");
  }
  // The identity two holder names are compared by: NFKC, lower case, white space collapsed and
  // trimmed, invisible and control characters dropped, then the confusable skeleton.
  function identity(s) {
    const folded = s.normalize("NFKC").toLowerCase().split(/\p{White_Space}+/u).filter(Boolean).join(" ");
    return skeleton([...folded].filter((c) => !invisible(c.codePointAt(0)) && !control(c)).join(""));
  }
  const samePerson = (a, b) => identity(a) === identity(b);

  Object.assign(Pil, { checkText, checkName, identity, samePerson, skeleton, highlyRestrictive });
})();
