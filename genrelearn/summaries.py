"""Names shown to a person: a few of many, or runs like timbre_mean_0…11 (notes, reports, cards).

Usage:
    from genrelearn.summaries import compact, summarise
    summarise(columns)      # "a, b, c, ... (40 in all)"
"""
import re


def summarise(names, limit=8):
    """Names joined by commas, the first ``limit`` of them and a count when there are more."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def compact(names):
    """All of ``names``, runs like timbre_mean_0, ..., timbre_mean_11 shown as timbre_mean_0…11."""
    parts, run = [], []
    for name in map(str, names):
        match = re.fullmatch(r"(.*?)(\d+)", name)
        key = (match[1], int(match[2])) if match else None
        if run and key and run[-1][0] == key[0] and run[-1][1] + 1 == key[1]:
            run.append(key)
            continue
        parts.append(_run_text(run))
        run = [key] if key else []
        if not key:
            parts.append(name)
    parts.append(_run_text(run))
    return ", ".join(part for part in parts if part)


def _run_text(run):
    if not run:
        return ""
    (prefix, first), (_, last) = run[0], run[-1]
    return f"{prefix}{first}" if first == last else f"{prefix}{first}…{last}"
