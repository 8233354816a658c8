// `--help` and README's settings table, both written from the one settings table.

import { flagOf, SETTING_LIST, SettingKind, type Setting } from "./settings.ts";

/** How the default reads: the table's own wording, else the value itself. */
function defaultText(setting: Setting): string {
  if (setting.defaultDoc !== undefined) return setting.defaultDoc;
  return setting.default === "" ? "" : `\`${setting.default}\``;
}

/** Markdown to plain text for the terminal: `code` loses its backticks. */
function plain(markdown: string): string {
  return markdown.replaceAll("`", "");
}

/** README's settings table (markdown), row for row. */
export function settingsMarkdownTable(): string {
  const rows = SETTING_LIST.map((s) => {
    const fallback = defaultText(s);
    return `| \`${s.env}\` | ${fallback === "" ? "" : `${fallback} `}| ${s.doc} |`;
  });
  return ["| setting | default | meaning |", "|---|---|---|", ...rows].join("\n");
}

function valueHint(setting: Setting): string {
  switch (setting.kind) {
    case SettingKind.INTEGER:
    case SettingKind.DECIMAL:
      return `${setting.min}..${setting.max}`;
    case SettingKind.CHOICE:
      return setting.choices.join("|");
    case SettingKind.TEXT:
      return "text";
  }
}

/** `gavel --help`: usage, then every setting with its flag, values, default and meaning. */
export function helpText(version: string): string {
  const lines = [
    `gavel ${version}: a real-time auction bid server`,
    "",
    "Usage: bun run start [-- --setting value ...]",
    "       bun run src/main.ts [--setting value ...] | --help | --version",
    "",
    "Every setting is an environment variable and a flag (the flag wins). A bad value stops",
    "start-up with a message naming the setting.",
    "",
  ];
  for (const setting of SETTING_LIST) {
    const fallback = defaultText(setting);
    lines.push(`  ${setting.env}, ${flagOf(setting.env)} <${valueHint(setting)}>`);
    lines.push(`      ${plain(setting.doc)}`);
    if (fallback !== "") lines.push(`      default: ${plain(fallback)}`);
  }
  return `${lines.join("\n")}\n`;
}

// `bun run src/config/help.ts` prints README's settings table, to paste after a change here.
if (import.meta.main) console.log(settingsMarkdownTable());
