"""From free-text tags to one genre: the vocabulary file, normalisation, the choice rule."""
import pytest

from dataset import genres

DOCUMENTED_GENRES = {"rock", "pop", "electronic", "hip-hop", "jazz", "blues", "country", "folk",
                     "metal", "punk", "reggae", "r&b/soul", "classical", "latin", "world"}


@pytest.fixture(scope="module")
def vocabulary():
    return genres.load_vocabulary()


def test_the_shipped_vocabulary_has_the_documented_genres(vocabulary):
    assert set(vocabulary.genres) == DOCUMENTED_GENRES
    assert len(vocabulary.genre_by_tag) > 300


@pytest.mark.parametrize("spelling", ["Hip-Hop", "hip hop", "HIPHOP", " hip_hop ", "Hip Hop!"])
def test_case_spaces_and_punctuation_do_not_matter(vocabulary, spelling):
    assert vocabulary.genre_of([(spelling, 50)]) == "hip-hop"


def test_ampersand_accents_and_synonyms(vocabulary):
    assert vocabulary.genre_of([("R&B", 50)]) == "r&b/soul"
    assert vocabulary.genre_of([("r and b", 50)]) == "r&b/soul"
    assert vocabulary.genre_of([("Música Latina", 50)]) == "latin"
    assert vocabulary.genre_of([("drum 'n' bass", 50)]) == "electronic"


def test_the_largest_summed_count_wins_not_the_last_matching_tag(vocabulary):
    assert vocabulary.genre_of([("rock", 100), ("jazz", 30)]) == "rock"
    assert vocabulary.genre_of([("jazz", 30), ("rock", 100)]) == "rock"
    # sub-genres add up: punk rock + punk (100) beat rock (90)
    assert vocabulary.genre_of([("rock", 90), ("punk rock", 50), ("punk", 50)]) == "punk"


def test_tags_that_are_not_genres_are_ignored(vocabulary):
    tags = [("seen live", 100), ("80s", 90), ("female vocalists", 80), ("jazz", 20)]
    assert vocabulary.genre_of(tags) == "jazz"
    assert vocabulary.genre_of([("seen live", 100), ("favourites", 50)]) is None
    assert vocabulary.genre_of([]) is None


def test_below_the_minimum_count_there_is_no_genre(vocabulary):
    tags = [("seen live", 100), ("rock", 6), ("classic rock", 3)]
    assert vocabulary.genre_of(tags, min_count=10) is None
    assert vocabulary.genre_of(tags, min_count=9) == "rock"


def test_ties_go_to_the_genre_listed_first(tmp_path):
    path = tmp_path / "vocabulary.tsv"
    path.write_text("# mine\ntag\tgenre\nswing\tjazz\nbig beat\telectronic\n", encoding="utf-8")
    vocabulary = genres.load_vocabulary(path)
    assert vocabulary.genres == ("jazz", "electronic")
    assert vocabulary.genre_of([("big beat", 40), ("swing", 40)]) == "jazz"


@pytest.mark.parametrize("text, complaint", [
    ("rock\trock\npunk rock\trock\nPunk-Rock\tpunk\n",
     r":3: tag 'Punk-Rock' is already mapped to 'rock'"),
    ("rock rock\n", r":1: expected TAG<TAB>GENRE"),
    ("rock\t\n", r":1: expected TAG<TAB>GENRE"),
    ("# only a comment\n", "no TAG<TAB>GENRE line"),
])
def test_a_bad_vocabulary_is_refused_with_its_line(tmp_path, text, complaint):
    path = tmp_path / "vocabulary.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(genres.VocabularyError, match=complaint):
        genres.load_vocabulary(path)


def test_genre_names_rename_genres_pool_their_tags_and_drop_the_unnamed(tmp_path):
    vocabulary = genres.Vocabulary({"rock": "rock", "punk": "punk", "hiphop": "hip-hop",
                                    "opera": "classical"})
    path = tmp_path / "names.tsv"
    path.write_text("genre\tname\nrock\tPop_Rock\npunk\tPop_Rock\nhip-hop\tRap\n")
    named = genres.load_genre_names(path, vocabulary)
    assert named.genres == ("Pop_Rock", "Rap")
    # punk 60 + rock 50 outweigh hip hop 70 once both are Pop_Rock; opera names no genre now.
    assert vocabulary.genre_of([("hip hop", 70), ("punk", 60), ("rock", 50)]) == "hip-hop"
    assert named.genre_of([("hip hop", 70), ("punk", 60), ("rock", 50)]) == "Pop_Rock"
    assert named.genre_of([("opera", 100)]) is None


def test_the_tagtraum_names_cover_the_vocabulary_but_classical():
    vocabulary = genres.load_vocabulary()
    named = genres.load_genre_names(genres.TAGTRAUM_NAMES, vocabulary)
    assert set(named.genre_by_tag.values()) == {
        "Pop_Rock", "Electronic", "Rap", "Jazz", "RnB", "Country", "Reggae", "Blues", "Latin",
        "Folk", "International"}
    assert {genre for tag, genre in vocabulary.genre_by_tag.items()
            if tag not in named.genre_by_tag} == {"classical"}


@pytest.mark.parametrize("text, complaint", [
    ("rock\tPop_Rock\nrock\tRock\n", r":2: genre 'rock' is already named 'Pop_Rock'"),
    ("rock\tPop_Rock\nska\tReggae\n", r":2: 'ska' is not a genre of the vocabulary"),
    ("rock Pop_Rock\n", r":1: expected GENRE<TAB>NAME"),
    ("# nothing\n", "no GENRE<TAB>NAME line"),
])
def test_a_bad_genre_names_file_is_refused_with_its_line(tmp_path, text, complaint):
    path = tmp_path / "names.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(genres.VocabularyError, match=complaint):
        genres.load_genre_names(path, genres.load_vocabulary())


def test_a_missing_vocabulary_file_is_a_vocabulary_error(tmp_path):
    with pytest.raises(genres.VocabularyError, match="cannot read"):
        genres.load_vocabulary(tmp_path / "absent.tsv")


def test_top_tags_keeps_the_strongest_ten_with_numeric_counts():
    tags = [(f"tag{i}", str(i)) for i in range(15)] + [("odd", "n/a")]
    kept = genres.top_tags(tags)
    assert kept == [(f"tag{i}", i) for i in range(14, 4, -1)]


def test_the_tags_column_survives_separators_in_names_and_reproduces_the_genre(vocabulary):
    raw = [("punk; rock", "100"), ("post:punk", 60), ("seen  live", 40), ("  ", 30)]
    kept = genres.top_tags(raw)
    text = genres.format_tags(kept)
    assert text == "punk rock:100;post punk:60;seen live:40"
    assert genres.parse_tags(text) == kept
    assert vocabulary.genre_of(genres.parse_tags(text)) == vocabulary.genre_of(kept) == "punk"
    assert genres.parse_tags("") == []


def test_strengths_on_other_scales_become_counts_relative_to_the_strongest():
    # Echo Nest term weights (0-1) and MusicBrainz vote counts, on last.fm's 0-100.
    assert genres.relative_counts(["pop punk", "ska punk", "grunge"], [0.8, 0.4, 0.02]) == [
        ("pop punk", 100), ("ska punk", 50), ("grunge", 2)]
    assert genres.relative_counts(["canadian", "country rock"], [2, 1]) == [
        ("canadian", 100), ("country rock", 50)]
    assert genres.relative_counts(["a"], [0]) == [("a", 0)]
    assert genres.relative_counts([], []) == []
