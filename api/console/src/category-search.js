// Category search by code, Chinese, English, pinyin initials or full pinyin (the keys come precomputed from the
// API: GET /intake/categories, GET /handhelds/categories). Shared by the console's intake screen and the
// handheld web app, which must not pull the console's map code into its bundle.

/** The categories matching `query`: by code, Chinese, English, pinyin initials or full pinyin. */
export function matchCategories(list, query, limit = 12) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const score = (c) => {
    if (c.code.toLowerCase() === q) return 0;
    if (c.name.includes(query.trim())) return 1;
    if (c.initials.some((i) => i.startsWith(q))) return 2;
    if (c.pinyin.startsWith(q)) return 3;
    if (c.initials.some((i) => i.includes(q)) || c.pinyin.includes(q)) return 4;
    if (c.code.toLowerCase().startsWith(q) || c.name_en.toLowerCase().includes(q)) return 5;
    return null;
  };
  return list.map((c) => [score(c), c]).filter(([s]) => s !== null).sort((a, b) => a[0] - b[0])
    .slice(0, limit).map(([, c]) => c);
}

