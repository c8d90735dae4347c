"""Rewrite every locales/*.json sorted by key, one string a line: `python -m locales.sync`.
Run it after adding strings, so the files stay easy to compare and to merge."""
import json

from locales import FOLDER

if __name__ == "__main__":
    for path in sorted(FOLDER.glob("*.json")):
        strings = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(strings, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{path.name}: {len(strings)} strings")
