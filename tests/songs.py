"""Song dicts for dataset.sample.write_song_file: realistic fields and arrays, seeded."""
import numpy as np


def make_song(track_id, seed=0, segments=20, duration=180.0, **fields):
    """A song with every array filled (``segments`` rows) and distinct values per seed."""
    rng = np.random.default_rng(seed)
    song = {
        "track_id": track_id, "song_id": "SO" + track_id[2:], "artist_id": "AR" + track_id[2:],
        "artist_name": f"Artist {seed}", "title": f"Title {seed}", "release": f"Release {seed}",
        "year": 1990 + seed, "duration": duration, "tempo": 100.0 + seed, "key": seed % 12,
        "mode": 1, "loudness": -8.5, "time_signature": 4, "artist_familiarity": 0.5,
        "artist_hotttnesss": 0.4, "song_hotttnesss": float("nan"),
        "artist_latitude": float("nan"), "artist_longitude": float("nan"),
        "segments_timbre": rng.normal(seed, 1.0, (segments, 12)),
        "segments_pitches": rng.uniform(0, 1, (segments, 12)),
        "segments_start": np.linspace(0, duration, segments, endpoint=False),
        "segments_confidence": rng.uniform(0, 1, segments),
        "segments_loudness_max": rng.normal(-10, 2, segments),
        "segments_loudness_max_time": rng.uniform(0, 0.2, segments),
        "segments_loudness_start": rng.normal(-20, 2, segments),
        "beats_start": np.arange(0, duration, 0.5), "bars_start": np.arange(0, duration, 2.0),
        "tatums_start": np.arange(0, duration, 0.25),
        "sections_start": np.arange(0, duration, 30.0),
        "artist_mbtags": [f"tag{seed}", "shared"], "artist_mbtags_count": [seed + 1, 1],
        "artist_terms": ["rock", f"term{seed}"], "artist_terms_freq": [1.0, 0.5],
        "artist_terms_weight": [1.0, 0.25], "similar_artists": ["ARAAAAAAAAAAAAAAAA"],
    }
    for name in ("beats", "bars", "tatums", "sections"):
        song[f"{name}_confidence"] = np.ones(len(song[f"{name}_start"]))
    song.update(fields)
    return song
