"""Test songs: dicts for dataset.sample.write_song_file, and SongCSV-style tables, seeded."""
import numpy as np
import pandas as pd


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


GENRE_SHARES = {"Pop_Rock": 0.6, "Rap": 0.25, "Jazz": 0.15}


def synthetic_songcsv(n_songs=300, seed=0, songs_per_artist=5):
    """A SongCSV-style table whose genres are learnable from timbre_mean_0..3.

    Each artist sings one genre; year is missing for a third of the songs; danceability and
    energy are 0 everywhere, as in the real data.
    """
    rng = np.random.default_rng(seed)
    n_artists = n_songs // songs_per_artist
    artist_genres = rng.choice(list(GENRE_SHARES), size=n_artists, p=list(GENRE_SHARES.values()))
    artist = np.repeat(np.arange(n_artists), songs_per_artist)
    genres = artist_genres[artist]
    centres = {genre: rng.normal(0, 3, 4) for genre in GENRE_SHARES}
    table = pd.DataFrame({
        "track_id": [f"TR{i:016d}" for i in range(len(artist))],
        "song_id": [f"SO{i:016d}" for i in range(len(artist))],
        "artist_id": [f"AR{a:016d}" for a in artist],
        "artist_name": [f"Artist {a}" for a in artist],
        "title": [f"Song {i}" for i in range(len(artist))],
        "year": np.where(rng.random(len(artist)) < 0.33, np.nan,
                         rng.integers(1960, 2010, len(artist))),
        "duration": rng.uniform(120, 400, len(artist)),
        "tempo": rng.uniform(60, 180, len(artist)),
        "danceability": 0.0,
        "energy": 0.0,
    })
    for i in range(4):
        table[f"timbre_mean_{i}"] = [centres[g][i] + rng.normal() for g in genres]
    table["genre"] = genres
    table["genre_source"] = "synthetic"
    return table
