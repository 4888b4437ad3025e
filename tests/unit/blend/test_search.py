"""Blend's song search (soundcanvas.blend.search): typo tolerance, ranking, private songs, pages, the artifact."""

from __future__ import annotations

import json
import random
import struct
import zlib

import pytest

from soundcanvas.blend.search import (
    MIN_SCORE,
    SearchEntry,
    SearchHit,
    SearchIndex,
    build_index,
    normalize,
    score_entry,
)

FOLK_TUNES = """
The Kesh Jig|Traditional
Drowsy Maggie|Traditional
The Silver Spear|Traditional
The Butterfly|Traditional
The Morning Dew|Traditional
Cooley's Reel|Traditional
The Maid Behind the Bar|Traditional
The Banshee|Traditional
The Musical Priest|Traditional
The Wind That Shakes the Barley|Traditional
Out on the Ocean|Traditional
The Lark in the Morning|Traditional
Tobin's Jig|Traditional
Morrison's Jig|Traditional
The Blarney Pilgrim|Traditional
The Irish Washerwoman|Traditional
Swallowtail Jig|Traditional
The Swallowtail Reel|Traditional
The Sally Gardens|Traditional
Star of Munster|Traditional
The Boys of Bluehill|Traditional
The Harvest Home|Traditional
Rakes of Mallow|Traditional
The Rocky Road to Dublin|Traditional
The Mason's Apron|Traditional
The Merry Blacksmith|Traditional
Toss the Feathers|Traditional
The Sligo Maid|Traditional
The Tarbolton|Traditional
The Gravel Walks|Traditional
Kid on the Mountain|Traditional
The Humours of Ballyloughlin|Traditional
The Humours of Tulla|Traditional
The Mountain Road|Traditional
The Earl's Chair|Traditional
The Bucks of Oranmore|Traditional
Miss McLeod's Reel|Traditional
The Ashplant|Traditional
The Green Fields of America|Traditional
The Wise Maid|Traditional
Sonny's Mazurka|Traditional
Si Bheag Si Mhor|Turlough O'Carolan
Planxty Irwin|Turlough O'Carolan
Carolan's Concerto|Turlough O'Carolan
Carolan's Draught|Turlough O'Carolan
Fanny Power|Turlough O'Carolan
Eleanor Plunkett|Turlough O'Carolan
The Foggy Dew|Traditional
Whiskey in the Jar|Traditional
The Parting Glass|Traditional
Down by the Salley Gardens|Traditional
The Black Velvet Band|Traditional
Star of the County Down|Traditional
The Wild Rover|Traditional
Spancil Hill|Traditional
The Fields of Athenry|Pete St. John
Raglan Road|Traditional
She Moved Through the Fair|Traditional
The Last Rose of Summer|Thomas Moore
Danny Boy|Traditional
Scarborough Fair|Traditional
Greensleeves|Traditional
The Skye Boat Song|Traditional
Loch Lomond|Traditional
Auld Lang Syne|Traditional
The Atholl Highlanders|Traditional
Mairi's Wedding|Traditional
Flowers of Edinburgh|Traditional
Soldier's Joy|Traditional
Arkansas Traveler|Traditional
Turkey in the Straw|Traditional
Old Joe Clark|Traditional
Cripple Creek|Traditional
Whiskey Before Breakfast|Traditional
Red Haired Boy|Traditional
Angeline the Baker|Traditional
Salt Creek|Traditional
Blackberry Blossom|Traditional
Bill Cheatham|Traditional
Big Sciota|Traditional
Forked Deer|Traditional
Sail Away Ladies|Traditional
Shady Grove|Traditional
Cluck Old Hen|Traditional
Sally Goodin|Traditional
Ragtime Annie|Traditional
Liberty|Traditional
Over the Waterfall|Traditional
Midnight on the Water|Traditional
Ashokan Farewell|Jay Ungar
The Road to Lisdoonvarna|Traditional
Haste to the Wedding|Traditional
The Kerry Polka|Traditional
Britches Full of Stitches|Traditional
John Ryan's Polka|Traditional
The Rights of Man|Traditional
The Boys of Blue Hill|Traditional
The Chief O'Neill's Favourite|Traditional
Off to California|Traditional
The Galway Hornpipe|Traditional
The Derry Hornpipe|Traditional
Harvest Moon Hornpipe|Traditional
The Cliffs of Moher|Traditional
Calliope House|Dave Richardson
Dancing Bear|Traditional
Banish Misfortune|Traditional
Father O'Flynn|Traditional
The Frost Is All Over|Traditional
Garrett Barry's Jig|Traditional
Willie Coleman's Jig|Traditional
The Connaughtman's Rambles|Traditional
Haunting of the Hare|Traditional
The Old Grey Goose|Traditional
Scatter the Mud|Traditional
Hag at the Churn|Traditional
Geese in the Bog|Traditional
The Sport of the Chase|Traditional
Port na bPúcaí|Traditional
An Dró|Traditional
Tri Martolod|Traditional
Ar Hyd y Nos|Traditional
Calon Lân|Traditional
Hornpipe à la Française|Traditional
Valse à Joséphine|Traditional
Les Filles de Montréal|Traditional
La Bastringue|Traditional
Reel Béatrice|Traditional
Le Reel du Pendu|Traditional
Die Gedanken sind frei|Traditional
Schön Rosmarin|Fritz Kreisler
Für Elise|Ludwig van Beethoven
Mondscheinsonate|Ludwig van Beethoven
Canon in D|Johann Pachelbel
Clair de Lune|Claude Debussy
Gymnopédie No. 1|Erik Satie
Boléro|Maurice Ravel
Rhapsody in Blue|George Gershwin
Hungarian Rhapsody No. 2|Franz Liszt
Rhapsody on a Theme of Paganini|Sergei Rachmaninoff
Ode to Joy|Ludwig van Beethoven
The Blue Danube|Johann Strauss II
Eine kleine Nachtmusik|Wolfgang Amadeus Mozart
Ride of the Valkyries|Richard Wagner
In the Hall of the Mountain King|Edvard Grieg
Morning Mood|Edvard Grieg
Air on the G String|Johann Sebastian Bach
The Four Seasons: Spring|Antonio Vivaldi
Carmen: Habanera|Georges Bizet
Ave Maria|Franz Schubert
Danse Macabre|Camille Saint-Saëns
The Swan|Camille Saint-Saëns
Pavane|Gabriel Fauré
Jesu, Joy of Man's Desiring|Johann Sebastian Bach
Amazing Grace|Traditional
Shenandoah|Traditional
Wayfaring Stranger|Traditional
House of the Rising Sun|Traditional
Cotton-Eyed Joe|Traditional
Oh! Susanna|Stephen Foster
Camptown Races|Stephen Foster
Beautiful Dreamer|Stephen Foster
""".strip().splitlines()

FAMOUS_SONGS = """
Bohemian Rhapsody|Queen
Bohemian Rhapsody (Live at Wembley)|Queen
Bohemian Like You|The Dandy Warhols
Killer Queen|Queen
Don't Stop Me Now|Queen
We Will Rock You|Queen
Somebody to Love|Queen
Under Pressure|Queen & David Bowie
Radio Ga Ga|Queen
Another One Bites the Dust|Queen
Dancing Queen|ABBA
Queen of Hearts|Juice Newton
Hotel California|Eagles
Hotel California|Gipsy Kings
Take It Easy|Eagles
Desperado|Eagles
Heartbreak Hotel|Elvis Presley
California Dreamin'|The Mamas & the Papas
Californication|Red Hot Chili Peppers
Hey Jude|The Beatles
Let It Be|The Beatles
Yesterday|The Beatles
Here Comes the Sun|The Beatles
Come Together|The Beatles
Eleanor Rigby|The Beatles
Strawberry Fields Forever|The Beatles
While My Guitar Gently Weeps|The Beatles
Imagine|John Lennon
Stairway to Heaven|Led Zeppelin
Whole Lotta Love|Led Zeppelin
Kashmir|Led Zeppelin
Smoke on the Water|Deep Purple
Paint It Black|The Rolling Stones
(I Can't Get No) Satisfaction|The Rolling Stones
Gimme Shelter|The Rolling Stones
Like a Rolling Stone|Bob Dylan
Blowin' in the Wind|Bob Dylan
The Times They Are a-Changin'|Bob Dylan
Knockin' on Heaven's Door|Bob Dylan
Sweet Child o' Mine|Guns N' Roses
November Rain|Guns N' Roses
Smells Like Teen Spirit|Nirvana
Come as You Are|Nirvana
Wonderwall|Oasis
Don't Look Back in Anger|Oasis
Champagne Supernova|Oasis
Creep|Radiohead
Karma Police|Radiohead
No Surprises|Radiohead
Paranoid Android|Radiohead
Purple Rain|Prince
When Doves Cry|Prince
Billie Jean|Michael Jackson
Thriller|Michael Jackson
Beat It|Michael Jackson
Man in the Mirror|Michael Jackson
Like a Prayer|Madonna
Vogue|Madonna
Material Girl|Madonna
Born to Run|Bruce Springsteen
Dancing in the Dark|Bruce Springsteen
Thunder Road|Bruce Springsteen
Livin' on a Prayer|Bon Jovi
Sweet Caroline|Neil Diamond
Hallelujah|Leonard Cohen
Hallelujah|Jeff Buckley
Suzanne|Leonard Cohen
Space Oddity|David Bowie
Heroes|David Bowie
Life on Mars?|David Bowie
Starman|David Bowie
Wish You Were Here|Pink Floyd
Comfortably Numb|Pink Floyd
Another Brick in the Wall|Pink Floyd
Time|Pink Floyd
Money|Pink Floyd
Dreams|Fleetwood Mac
Go Your Own Way|Fleetwood Mac
The Chain|Fleetwood Mac
Landslide|Fleetwood Mac
Rocket Man|Elton John
Tiny Dancer|Elton John
Your Song|Elton John
Piano Man|Billy Joel
Uptown Girl|Billy Joel
Mrs. Robinson|Simon & Garfunkel
The Sound of Silence|Simon & Garfunkel
Bridge over Troubled Water|Simon & Garfunkel
Scarborough Fair/Canticle|Simon & Garfunkel
Jolene|Dolly Parton
9 to 5|Dolly Parton
I Will Always Love You|Whitney Houston
I Will Always Love You|Dolly Parton
Respect|Aretha Franklin
What a Wonderful World|Louis Armstrong
Fly Me to the Moon|Frank Sinatra
My Way|Frank Sinatra
New York, New York|Frank Sinatra
Georgia on My Mind|Ray Charles
Hit the Road Jack|Ray Charles
Johnny B. Goode|Chuck Berry
Jailhouse Rock|Elvis Presley
Can't Help Falling in Love|Elvis Presley
Hound Dog|Elvis Presley
Ring of Fire|Johnny Cash
Folsom Prison Blues|Johnny Cash
Hurt|Johnny Cash
Take Me Home, Country Roads|John Denver
Superstition|Stevie Wonder
Isn't She Lovely|Stevie Wonder
What's Going On|Marvin Gaye
Let's Get It On|Marvin Gaye
(Sittin' On) The Dock of the Bay|Otis Redding
Stand by Me|Ben E. King
My Girl|The Temptations
Good Vibrations|The Beach Boys
God Only Knows|The Beach Boys
Layla|Derek and the Dominos
Wonderful Tonight|Eric Clapton
Tears in Heaven|Eric Clapton
Purple Haze|Jimi Hendrix
All Along the Watchtower|Jimi Hendrix
Roxanne|The Police
Every Breath You Take|The Police
Sultans of Swing|Dire Straits
Money for Nothing|Dire Straits
With or Without You|U2
One|U2
Where the Streets Have No Name|U2
Losing My Religion|R.E.M.
Everybody Hurts|R.E.M.
Africa|Toto
Take On Me|a-ha
Sweet Dreams (Are Made of This)|Eurythmics
Girls Just Want to Have Fun|Cyndi Lauper
Total Eclipse of the Heart|Bonnie Tyler
Don't Stop Believin'|Journey
Eye of the Tiger|Survivor
Back in Black|AC/DC
Highway to Hell|AC/DC
Enter Sandman|Metallica
Nothing Else Matters|Metallica
Zombie|The Cranberries
Linger|The Cranberries
Crazy in Love|Beyoncé
Halo|Beyoncé
Single Ladies (Put a Ring on It)|Beyoncé
Rolling in the Deep|Adele
Someone Like You|Adele
Hello|Adele
Shape of You|Ed Sheeran
Thinking Out Loud|Ed Sheeran
Bad Guy|Billie Eilish
Blinding Lights|The Weeknd
Uptown Funk|Mark Ronson
Happy|Pharrell Williams
Despacito|Luis Fonsi
La Vie en rose|Édith Piaf
Non, je ne regrette rien|Édith Piaf
Ne me quitte pas|Jacques Brel
Hoppípolla|Sigur Rós
Svefn-g-englar|Sigur Rós
Jóga|Björk
Army of Me|Björk
99 Luftballons|Nena
Du hast|Rammstein
Águas de Março|Elis Regina
The Girl from Ipanema|Stan Getz & João Gilberto
Mas Que Nada|Sérgio Mendes
Café del Mar|Energy 52
Sunday Bloody Sunday|U2
Yellow|Coldplay
Fix You|Coldplay
Viva la Vida|Coldplay
Mr. Brightside|The Killers
Seven Nation Army|The White Stripes
Take Me Out|Franz Ferdinand
Rebel Rebel|David Bowie
Dancing on My Own|Robyn
Running Up That Hill|Kate Bush
Wuthering Heights|Kate Bush
""".strip().splitlines()

PRIVATE_SONGS = (
    SearchEntry("private-1", "Moonlight Over Galway Bay", "Me"),
    SearchEntry("private-2", "Bohemian Rhapsody (My Cover)", "Me"),
    SearchEntry("private-3", "Kesh Jig Practice Take", "Me"),
)


def _corpus() -> list[SearchEntry]:
    rows = [line.split("|") for line in FOLK_TUNES + FAMOUS_SONGS]
    return [SearchEntry(f"song-{number:03d}", title, artist) for number, (title, artist) in enumerate(rows)]


CORPUS = _corpus()
BY_ID = {entry.song_id: entry for entry in CORPUS}


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.from_bytes(build_index(CORPUS))


def _id_of(title: str, artist: str) -> str:
    return next(entry.song_id for entry in CORPUS if (entry.title, entry.artist) == (title, artist))


def _top(index: SearchIndex, query: str, limit: int = 5) -> list[SearchHit]:
    return list(index.search(query, limit).hits)


def test_the_corpus_is_a_few_hundred_distinct_songs() -> None:
    assert len(CORPUS) > 300
    assert len({(entry.title, entry.artist) for entry in CORPUS}) == len(CORPUS)


def test_normalize_folds_case_accents_punctuation_and_ampersand() -> None:
    assert normalize("Beyoncé & Jay-Z") == "beyonce and jay z"
    assert normalize("  Don't  Stop Me Now! ") == "dont stop me now"
    assert normalize("Hoppípolla") == "hoppipolla"
    assert normalize("Schön Rosmarin (Live)") == "schon rosmarin live"
    assert normalize("Don\u2019t  stop") == normalize("Don\u00b4t stop") == "dont stop"
    assert normalize("Straße") == "strasse"
    assert normalize("!!! ...") == ""


@pytest.mark.parametrize(
    ("query", "title", "artist"),
    [
        ("Bohemian Rhapsody", "Bohemian Rhapsody", "Queen"),
        ("drowsy maggie", "Drowsy Maggie", "Traditional"),
        ("The Kesh Jig", "The Kesh Jig", "Traditional"),
        ("hotel california eagles", "Hotel California", "Eagles"),
        ("eagles hotel california", "Hotel California", "Eagles"),
        ("hotel california gipsy kings", "Hotel California", "Gipsy Kings"),
        ("dont stop me now", "Don't Stop Me Now", "Queen"),
        ("simon and garfunkel mrs robinson", "Mrs. Robinson", "Simon & Garfunkel"),
        ("sweet child o mine", "Sweet Child o' Mine", "Guns N' Roses"),
    ],
)
def test_an_exact_query_ranks_its_song_first(index: SearchIndex, query: str, title: str, artist: str) -> None:
    top = _top(index, query)
    assert top[0].song_id == _id_of(title, artist)
    assert top[0].score >= 95


def test_an_exact_title_outranks_longer_titles_with_the_same_words(index: SearchIndex) -> None:
    top = _top(index, "bohemian rhapsody")
    assert [hit.title for hit in top[:2]] == ["Bohemian Rhapsody", "Bohemian Rhapsody (Live at Wembley)"]
    assert top[0].score == 100.0
    assert top[0].score > top[1].score


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("bohemian rapsody", "Bohemian Rhapsody"),  # one missing letter
        ("drowsy magie", "Drowsy Maggie"),
        ("the kesh jog", "The Kesh Jig"),  # one substitution in a three-letter word
        ("wonderwal", "Wonderwall"),
        ("stairway to haeven", "Stairway to Heaven"),  # a transposition is one typo
    ],
)
def test_one_typo_still_finds_the_song_first(index: SearchIndex, query: str, title: str) -> None:
    assert _top(index, query)[0].title == title


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("bohemain rapsody", "Bohemian Rhapsody"),  # the spec's example: one typo in each word
        ("bohmian rapsodi", "Bohemian Rhapsody"),  # two typos in one word ("rapsodi")
        ("drowzy maggei", "Drowsy Maggie"),
        ("smels like teen spirt", "Smells Like Teen Spirit"),
        ("halelujah", "Hallelujah"),
        ("ashokan farwel", "Ashokan Farewell"),
        ("wondrewal", "Wonderwall"),  # a transposition and a missing letter in one word
        ("grensleves", "Greensleeves"),
        ("shenendoa", "Shenandoah"),
    ],
)
def test_two_typos_still_find_the_song_first(index: SearchIndex, query: str, title: str) -> None:
    top = _top(index, query)
    assert top[0].title == title
    assert top[0].score >= MIN_SCORE


def test_too_many_typos_in_a_short_word_do_not_match(index: SearchIndex) -> None:
    """A 3-5 letter word allows one typo: "jgg" (two from "jig") alone finds no tune named "jig"."""
    assert all("Jig" not in hit.title for hit in _top(index, "jgg", 20))


def test_word_order_does_not_matter_but_the_exact_order_ranks_first(index: SearchIndex) -> None:
    reversed_top = _top(index, "rhapsody bohemian")
    assert reversed_top[0].title == "Bohemian Rhapsody"
    assert reversed_top[0].score < 100.0
    assert _top(index, "maggie drowsy")[0].title == "Drowsy Maggie"
    assert _top(index, "jig kesh the")[0].title == "The Kesh Jig"


def test_an_artist_query_finds_that_artists_songs_in_title_order(index: SearchIndex) -> None:
    queen_titles = sorted((entry.title for entry in CORPUS if entry.artist == "Queen"), key=normalize)
    assert len(queen_titles) == 8
    page = index.search("queen", 8)
    assert [hit.title for hit in page.hits] == queen_titles
    assert all(hit.artist == "Queen" and hit.score == 100.0 for hit in page.hits)
    assert page.has_more
    # then the other songs with "queen" in the title or the artist, each below 100
    rest = index.search("queen", 20, offset=8).hits
    assert {hit.title for hit in rest} == {"Under Pressure", "Dancing Queen", "Queen of Hearts"}
    assert all(hit.score < 100.0 for hit in rest)


def test_an_artist_query_with_a_typo_and_accents(index: SearchIndex) -> None:
    assert {hit.title for hit in _top(index, "beyonce", 3)} == {"Crazy in Love", "Halo", "Single Ladies (Put a Ring on It)"}
    assert {hit.artist for hit in _top(index, "led zepelin", 3)} == {"Led Zeppelin"}
    assert {hit.artist for hit in _top(index, "Sigur Ros", 2)} == {"Sigur Rós"}


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("bohem", "Bohemian Like You"),  # the shortest title with a word starting "bohem"
        ("drows", "Drowsy Maggie"),
        ("ashok", "Ashokan Farewell"),
        ("stairway to hea", "Stairway to Heaven"),
        ("smells like te", "Smells Like Teen Spirit"),
    ],
)
def test_a_prefix_finds_the_song(index: SearchIndex, query: str, title: str) -> None:
    top = _top(index, query)
    assert top[0].title == title
    assert top[0].score >= MIN_SCORE


def test_a_prefix_finds_every_song_with_a_word_starting_so(index: SearchIndex) -> None:
    titles = [hit.title for hit in _top(index, "bohem", 10)]
    assert set(titles) == {"Bohemian Like You", "Bohemian Rhapsody", "Bohemian Rhapsody (Live at Wembley)"}


def test_a_prefix_shorter_than_three_letters_matches_whole_words_only(index: SearchIndex) -> None:
    assert _top(index, "bo") == []


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("fur elise", "Für Elise"),
        ("FÜR ÉLISE", "Für Elise"),
        ("hoppipolla", "Hoppípolla"),
        ("Hoppípolla", "Hoppípolla"),
        ("bolero", "Boléro"),
        ("aguas de marco", "Águas de Março"),
        ("la vie en rose edith piaf", "La Vie en rose"),
        ("valse a josephine", "Valse à Joséphine"),
        ("calon lan", "Calon Lân"),
    ],
)
def test_accents_are_ignored_both_ways(index: SearchIndex, query: str, title: str) -> None:
    top = _top(index, query)
    assert top[0].title == title
    assert top[0].score >= 95


def test_ampersand_and_and_are_the_same(index: SearchIndex) -> None:
    assert _top(index, "simon and garfunkel")[0].artist == "Simon & Garfunkel"
    assert _top(index, "queen & david bowie")[0].title == "Under Pressure"
    assert _top(index, "derek & the dominos")[0].title == "Layla"


def test_private_songs_are_found_only_when_passed_as_extra(index: SearchIndex) -> None:
    assert all(not hit.song_id.startswith("private-") for hit in index.search("moonlight galway bay", 20).hits)
    assert index.search("moonlight over galway bay", 5).hits == ()
    page = index.search("moonlight over galway bay", 5, extra=PRIVATE_SONGS)
    assert page.hits[0] == SearchHit("private-1", "Moonlight Over Galway Bay", "Me", 100.0)


def test_private_songs_are_ranked_with_the_public_ones(index: SearchIndex) -> None:
    titles = [hit.title for hit in index.search("bohemian rhapsody", 4, extra=PRIVATE_SONGS).hits]
    assert titles[0] == "Bohemian Rhapsody"
    assert "Bohemian Rhapsody (My Cover)" in titles
    kesh = [hit.song_id for hit in index.search("kesh jig", 3, extra=PRIVATE_SONGS).hits]
    assert kesh[:2] == [_id_of("The Kesh Jig", "Traditional"), "private-3"]


def test_a_private_song_scores_as_it_would_in_the_index() -> None:
    """The in-memory scorer for `extra` and the index's vectorised one give the same scores."""
    sample = random.Random(7).sample(CORPUS, 60)
    public = SearchIndex.from_bytes(build_index(sample))
    empty = SearchIndex.from_bytes(build_index([]))
    for query in ("bohemain rapsody", "queen", "the kesh", "drows", "hotel california eagles", "fur elise", "love"):
        from_index = public.search(query, 100).hits
        from_extra = empty.search(query, 100, extra=sample).hits
        assert from_index == from_extra
        assert all(hit.score == score_entry(query, BY_ID[hit.song_id]) for hit in from_index)


@pytest.mark.parametrize("query", ["the", "love", "queen", "jig", "bohemain rapsody", "hotel", "reel", "blue"])
def test_pages_match_a_brute_force_ranking_of_the_whole_catalog(index: SearchIndex, query: str) -> None:
    """The index stops scoring once no song can enter the page; that never changes the ranking."""
    scored = [(score_entry(query, entry), entry) for entry in CORPUS]
    expected = sorted(
        (SearchHit(entry.song_id, entry.title, entry.artist, score) for score, entry in scored if score >= MIN_SCORE),
        key=lambda hit: (-hit.score, normalize(hit.title), hit.song_id),
    )
    assert expected
    for limit, offset in ((1, 0), (3, 0), (3, 2), (5, 5), (2, len(expected) - 2)):
        page = index.search(query, limit, offset)
        assert list(page.hits) == expected[offset : offset + limit]
        assert page.has_more == (len(expected) > offset + limit)


def test_an_extra_entry_replaces_the_indexed_song_with_its_id(index: SearchIndex) -> None:
    renamed = SearchEntry(_id_of("Drowsy Maggie", "Traditional"), "Drowsy Maggie (Renamed)", "Traditional")
    hits = index.search("drowsy maggie", 10, extra=[renamed]).hits
    assert [hit.title for hit in hits if hit.song_id == renamed.song_id] == ["Drowsy Maggie (Renamed)"]


@pytest.mark.parametrize(("query", "limit"), [("the", 7), ("queen", 3), ("jig", 2), ("love", 4)])
def test_pages_by_offset_cover_every_hit_once_in_order(index: SearchIndex, query: str, limit: int) -> None:
    everything = index.search(query, 1000)
    assert not everything.has_more
    paged: list[SearchHit] = []
    offset: int | None = 0
    while offset is not None:
        page = index.search(query, limit, offset, extra=())
        assert len(page.hits) == limit or not page.has_more
        assert page.has_more == (page.next_offset is not None)
        paged.extend(page.hits)
        offset = page.next_offset
    assert paged == list(everything.hits)
    assert len({hit.song_id for hit in paged}) == len(paged) > limit
    keys = [(-hit.score, normalize(hit.title), hit.song_id) for hit in paged]
    assert keys == sorted(keys)


def test_a_page_past_the_last_hit_is_empty(index: SearchIndex) -> None:
    page = index.search("drowsy maggie", 5, offset=500)
    assert page.hits == ()
    assert not page.has_more


def test_ties_are_ordered_by_title_then_song_id() -> None:
    songs = [
        SearchEntry("b-2", "Hallelujah", "Someone"),
        SearchEntry("a-9", "hallelujah", "Someone"),
        SearchEntry("c-1", "Hallelujah", "Someone"),
        SearchEntry("d-0", "Hallelujah Chorus", "Someone"),
    ]
    index = SearchIndex.from_bytes(build_index(songs))
    assert [hit.song_id for hit in index.search("someone", 10).hits] == ["a-9", "b-2", "c-1", "d-0"]
    assert [hit.song_id for hit in index.search("hallelujah", 10).hits] == ["a-9", "b-2", "c-1", "d-0"]


def test_the_artifact_round_trips_and_does_not_depend_on_input_order() -> None:
    shuffled = CORPUS[:]
    random.Random(3).shuffle(shuffled)
    data = build_index(CORPUS)
    assert build_index(shuffled) == data
    loaded = SearchIndex.from_bytes(data)
    assert len(loaded) == len(CORPUS)
    for entry in CORPUS:
        hits = loaded.search(f"{entry.title} {entry.artist}", 3).hits
        assert hits[0] == SearchHit(entry.song_id, entry.title, entry.artist, 100.0)


def test_an_index_from_entries_ranks_as_the_artifact_does(index: SearchIndex) -> None:
    direct = SearchIndex.from_entries(CORPUS)
    for query in ("queen", "bohemain rapsody", "jig"):
        assert direct.search(query, 10, 3) == index.search(query, 10, 3)


def test_an_empty_catalog_is_a_valid_index() -> None:
    empty = SearchIndex.from_bytes(build_index([]))
    assert len(empty) == 0
    assert empty.search("anything", 10).hits == ()


def _artifact(body: bytes) -> bytes:
    return b"SCBLND1\n" + zlib.compress(body)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an index",
        b"SCBLND1\ngarbage",
        build_index(CORPUS)[:-40],
        _artifact(struct.pack("<III", 2, 1, 0) + b"[]" + bytes(4)),  # metadata is not an object
        _artifact(struct.pack("<III", 2, 1, 0) + b"{}" + bytes(4)),  # metadata has no columns
        zlib.compress(b"an index of another format version"),
    ],
)
def test_bytes_that_are_not_an_index_are_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="index"):
        SearchIndex.from_bytes(data)


def test_an_artifact_whose_columns_disagree_is_a_value_error() -> None:
    metadata = json.dumps(
        {"song_ids": ["a"], "titles": ["A"], "artists": [""], "norm_titles": ["a"], "norm_artists": [""], "words": ["a"]}
    ).encode()
    offsets_and_postings = struct.pack("<2I", 0, 1) + struct.pack("<I", 5)  # song 5 of 1
    with pytest.raises(ValueError, match="do not agree"):
        SearchIndex.from_bytes(_artifact(struct.pack("<III", len(metadata), 2, 1) + metadata + offsets_and_postings))


def test_duplicate_song_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate song_id"):
        build_index([SearchEntry("x", "One", "A"), SearchEntry("x", "Two", "B")])


@pytest.mark.parametrize("query", ["xylophone quantum spreadsheet", "zzzzqqq", "lorem ipsum dolor", "microwave burrito"])
def test_an_irrelevant_query_returns_no_hits(index: SearchIndex, query: str) -> None:
    assert index.search(query, 20).hits == ()
    assert max(score_entry(query, entry) for entry in CORPUS) < MIN_SCORE


def test_one_matching_word_of_many_is_not_a_strong_hit(index: SearchIndex) -> None:
    hits = index.search("purple spreadsheet microwave burrito", 20).hits
    assert hits == ()
    assert score_entry("purple spreadsheet microwave burrito", BY_ID[_id_of("Purple Rain", "Prince")]) < MIN_SCORE


def test_every_hit_scores_between_min_score_and_100(index: SearchIndex) -> None:
    for query in ("the", "love", "bohemain rapsody", "jig", "queen"):
        assert all(MIN_SCORE <= hit.score <= 100.0 for hit in index.search(query, 200).hits)


@pytest.mark.parametrize("query", ["", "   ", "!!!", "?-", "x" * 201, "a b c d e f g h i j k"])
def test_a_blank_or_oversized_query_is_a_value_error(index: SearchIndex, query: str) -> None:
    with pytest.raises(ValueError, match="query"):
        index.search(query, 10)


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (10, -1)])
def test_a_bad_limit_or_offset_is_a_value_error(index: SearchIndex, limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        index.search("queen", limit, offset)
