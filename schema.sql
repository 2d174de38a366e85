-- bdnex-core SQLite schema: the one source of truth.
-- The first part is the seed ("BDneX Architecture - Phase 1"): its tables, columns,
-- CHECKs and six indexes are kept as designed, but for one word: a file waiting for a person's
-- review is 'waiting' (the seed said 'skipped', which also means "left as it was"). The second
-- part is what the product adds. Every statement is idempotent; bdnex_core/store/migrations.py applies this file
-- through sqlite-utils Migrations and upgrades databases made by earlier versions.

-- ===================================================================== seed

CREATE TABLE IF NOT EXISTS processed_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_path TEXT NOT NULL UNIQUE,
    file_hash TEXT NOT NULL,            -- SHA-256, hex
    file_size INTEGER,                  -- bytes
    processed_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_modified TIMESTAMP,
    bdgest_id INTEGER,
    bdgest_url TEXT,
    confidence_score REAL,              -- 0.0 to 1.0
    title TEXT,
    series TEXT,
    volume INTEGER,
    editor TEXT,
    year INTEGER,
    isbn TEXT,
    pages INTEGER,
    status TEXT CHECK(status IN ('success', 'manual', 'waiting', 'skipped', 'failed')),  -- 'waiting': for review
    error_msg TEXT,
    has_metadata BOOLEAN DEFAULT FALSE,
    metadata_hash TEXT,
    session_id INTEGER,
    processing_time_ms INTEGER,
    -- product additions (also added to older databases by migration m002)
    mtime_ns INTEGER,                   -- quick unchanged-file check with file_size
    tome TEXT,                          -- the tome as text: '1', 'HS1', 'INT2', '1a'
    decision TEXT,                      -- accept / review / none / manual
    source TEXT DEFAULT 'folder',       -- library source that produced the file
    external_id TEXT,                   -- e.g. Komga book id, calibre book id
    updated_date TIMESTAMP,
    FOREIGN KEY (session_id) REFERENCES processing_sessions(id)
);

CREATE TABLE IF NOT EXISTS bdgest_albums (
    id INTEGER PRIMARY KEY,             -- Bédéthèque album id
    title TEXT NOT NULL,
    series TEXT,
    volume INTEGER,
    editor TEXT,
    year INTEGER,
    isbn TEXT,
    pages INTEGER,
    cover_url TEXT,
    url TEXT UNIQUE,
    cached_date TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    cache_valid_until TIMESTAMP,        -- cached_date + TTL (config cache.album_ttl_days)
    metadata JSON                       -- the whole parsed album (Album.to_dict())
);

CREATE TABLE IF NOT EXISTS processing_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_start TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    session_end TIMESTAMP,
    directory TEXT NOT NULL,
    pattern TEXT DEFAULT '*.cbz|*.cbr',
    batch_mode BOOLEAN DEFAULT TRUE,
    strict_mode BOOLEAN DEFAULT FALSE,
    num_workers INTEGER DEFAULT 4,
    total_files INTEGER DEFAULT 0,
    files_processed INTEGER DEFAULT 0,
    files_successful INTEGER DEFAULT 0,
    files_failed INTEGER DEFAULT 0,
    files_skipped INTEGER DEFAULT 0,
    status TEXT CHECK(status IN ('running', 'paused', 'completed', 'failed')),
    log_file_path TEXT,
    json_log_path TEXT,
    csv_log_path TEXT,
    -- product additions
    files_waiting INTEGER DEFAULT 0,    -- waiting for a person's review
    files_unchanged INTEGER DEFAULT 0,  -- processed before and unchanged: counted in files_skipped, not listed
    options JSON,                       -- the run's options, reused by --resume
    pid INTEGER,                        -- process running it (a dead pid = interrupted)
    heartbeat TIMESTAMP,                -- last sign of life of that process
    source TEXT DEFAULT 'folder',
    imported_from TEXT,                 -- legacy batch log this session was imported from
    host TEXT                           -- the machine of that process (several share a PostgreSQL database)
);

CREATE TABLE IF NOT EXISTS metadata_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    field TEXT,
    old_value TEXT,
    new_value TEXT,
    source TEXT,                        -- 'auto', 'manual', 'api'
    FOREIGN KEY (file_id) REFERENCES processed_files(id)
);

CREATE TABLE IF NOT EXISTS statistics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    date DATE DEFAULT CURRENT_DATE,
    total_files INTEGER,
    total_series INTEGER,
    total_editors INTEGER,
    avg_pages INTEGER,
    avg_processing_time_ms INTEGER,
    -- product additions
    files_failed INTEGER,
    files_pending_review INTEGER,
    total_sessions INTEGER
);

CREATE INDEX IF NOT EXISTS idx_file_path ON processed_files(file_path);
CREATE INDEX IF NOT EXISTS idx_status ON processed_files(status);
CREATE INDEX IF NOT EXISTS idx_session_id ON processed_files(session_id);
CREATE INDEX IF NOT EXISTS idx_bdgest_id ON processed_files(bdgest_id);
CREATE INDEX IF NOT EXISTS idx_series ON processed_files(series);
CREATE INDEX IF NOT EXISTS idx_editor ON processed_files(editor);

-- ===================================================================== product

-- The files of each session, in order, so a resume knows exactly what is left.
CREATE TABLE IF NOT EXISTS session_files (
    session_id INTEGER NOT NULL REFERENCES processing_sessions(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    file_path TEXT NOT NULL,
    item_key TEXT NOT NULL,             -- file path, or 'source:external id'
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK(state IN ('pending', 'done', 'failed', 'skipped', 'waiting')),
    file_id INTEGER REFERENCES processed_files(id),
    error_msg TEXT,
    updated_at TIMESTAMP,
    item JSON,                          -- the item as its source gave it (write-back mode...), for --resume
    worker_pid INTEGER,                 -- the process that recorded the file's result (`sessions info`)
    worker_host TEXT,
    PRIMARY KEY (session_id, item_key)
);

-- Matches waiting for a person (batch mode, or below the accept threshold).
CREATE TABLE IF NOT EXISTS review_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_path TEXT NOT NULL,
    item_key TEXT NOT NULL,
    session_id INTEGER REFERENCES processing_sessions(id),
    parsed JSON,                        -- what the file name told us
    candidates JSON,                    -- [{album_id, url, score, explain}, ...]
    status TEXT NOT NULL DEFAULT 'waiting'
        CHECK(status IN ('waiting', 'resolved', 'skipped')),
    chosen_album_id INTEGER,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    resolved_at TIMESTAMP,
    item JSON                           -- the item as its source gave it: review writes back the same way
);

CREATE INDEX IF NOT EXISTS idx_file_hash ON processed_files(file_hash);
CREATE INDEX IF NOT EXISTS idx_session_files_state ON session_files(session_id, state, position);
-- a session's files in order, a page at a time (the web page of a session of thousands of files)
CREATE INDEX IF NOT EXISTS idx_session_files_position ON session_files(session_id, position);
CREATE UNIQUE INDEX IF NOT EXISTS idx_review_waiting ON review_queue(item_key) WHERE status = 'waiting';
CREATE UNIQUE INDEX IF NOT EXISTS idx_statistics_date ON statistics(date);
CREATE UNIQUE INDEX IF NOT EXISTS idx_sessions_imported_from ON processing_sessions(imported_from);
CREATE INDEX IF NOT EXISTS idx_bdgest_albums_valid ON bdgest_albums(cache_valid_until);
-- re-scans read size, mtime and state of every file under a folder from this index alone
CREATE INDEX IF NOT EXISTS idx_processed_rescan ON processed_files(file_path, file_size, mtime_ns, status, decision);

-- ===================================================================== catalogue index
-- Bédéthèque's albums as listed by its sitemaps (series, tome and title from each URL).

CREATE TABLE IF NOT EXISTS catalogue_albums (
    album_id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    series_slug TEXT NOT NULL,
    series_norm TEXT NOT NULL,
    tome TEXT,
    tome_number INTEGER,
    tome_kind TEXT CHECK(tome_kind IS NULL OR tome_kind IN ('regular', 'hs', 'int')),
    title_slug TEXT,
    title_norm TEXT,
    lastmod TEXT,
    sitemap TEXT                        -- the sitemap that listed it (replaced as a whole on update)
);

CREATE TABLE IF NOT EXISTS catalogue_sitemaps (
    url TEXT PRIMARY KEY,
    lastmod TEXT,                       -- from the sitemap index
    etag TEXT,                          -- for conditional requests
    last_modified TEXT,
    fetched_at TIMESTAMP,
    album_count INTEGER,
    revision TEXT                       -- changes whenever its albums are replaced: the index file compares it
);

CREATE INDEX IF NOT EXISTS idx_catalogue_sitemap ON catalogue_albums(sitemap);

-- ===================================================================== plugin state
-- Small JSON values a plugin keeps between runs (a Komga event checkpoint, a last sync time).

CREATE TABLE IF NOT EXISTS plugin_state (
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,                -- JSON
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plugin, key)
);

-- ===================================================================== comicinfo backups
-- The ComicInfo.xml a file held before we replaced it ('absent': it had none; 'unreadable': one we could
-- not read and left for review), with the layout that gives the whole CBZ back byte for byte,
-- byte for byte, so a session can be undone: the state of a file before session S is the first
-- backup of that file recorded in S or later (see bdnex_core/comicinfo_backups.py).

CREATE TABLE IF NOT EXISTS comicinfo_backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER REFERENCES processed_files(id),
    file_path TEXT NOT NULL,            -- canonical path when the backup was taken
    session_id INTEGER REFERENCES processing_sessions(id),
    comicinfo BLOB NOT NULL,            -- the exact bytes of the archive's ComicInfo.xml ('' when absent)
    sha256 TEXT NOT NULL,               -- of those bytes, hex
    reason TEXT NOT NULL DEFAULT 'replaced' CHECK(reason IN ('replaced', 'unreadable', 'absent')),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    layout BLOB,                        -- how to give the whole CBZ back byte for byte (archives/layout.py)
    undone_at TIMESTAMP                 -- when `bdnex-core undo` gave the file this state back
);

CREATE INDEX IF NOT EXISTS idx_comicinfo_backups_file ON comicinfo_backups(file_id, session_id, id);
CREATE INDEX IF NOT EXISTS idx_comicinfo_backups_path ON comicinfo_backups(file_path, session_id, id);
-- ===================================================================== library search
-- Full-text index of the processed files for `bdnex-core ls` (accents and case folded),
-- kept in step with processed_files by triggers.

CREATE VIRTUAL TABLE IF NOT EXISTS library_search USING fts5(
    series, title, editor, file_path,
    content='processed_files', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS library_search_insert AFTER INSERT ON processed_files BEGIN
    INSERT INTO library_search(rowid, series, title, editor, file_path)
    VALUES (new.id, new.series, new.title, new.editor, new.file_path);
END;

CREATE TRIGGER IF NOT EXISTS library_search_delete AFTER DELETE ON processed_files BEGIN
    INSERT INTO library_search(library_search, rowid, series, title, editor, file_path)
    VALUES ('delete', old.id, old.series, old.title, old.editor, old.file_path);
END;

CREATE TRIGGER IF NOT EXISTS library_search_update AFTER UPDATE OF series, title, editor, file_path ON processed_files BEGIN
    INSERT INTO library_search(library_search, rowid, series, title, editor, file_path)
    VALUES ('delete', old.id, old.series, old.title, old.editor, old.file_path);
    INSERT INTO library_search(rowid, series, title, editor, file_path)
    VALUES (new.id, new.series, new.title, new.editor, new.file_path);
END;

-- ===================================================================== file moves
-- A move in progress (`bdnex-core rename`): written before the file gets its new name, removed
-- once the old name is gone, so a run killed in between is finished by the next one.

CREATE TABLE IF NOT EXISTS file_moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL
);

-- ===================================================================== file claims
-- A run claims each file before processing it and releases it once its result is recorded, so
-- two runs on one library never write a file twice; a claim whose owner died or went silent
-- (heartbeat older than the stale limit) is taken over.

CREATE TABLE IF NOT EXISTS file_claims (
    item_key TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL,
    pid INTEGER,
    host TEXT,
    claimed_at TIMESTAMP NOT NULL,
    heartbeat TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_file_claims_session ON file_claims(session_id);

-- ===================================================================== request slots
-- Politeness shared by every process of this database: before each request to a site, a run takes
-- its slot in one short write transaction, and gives it back once the answer is in (one request in
-- flight at a time: holder, held_at, held_until, the lease a dead holder loses). next_at: when the
-- next request may start (the last one's send + pace); the hourly cap counts in a window (start,
-- count). pace: the seconds between requests the site's refusals taught us (0: none; decays after
-- calm answers without refusal); refusals: refusals in a row; retry_until: the end of a Retry-After.
-- Times are seconds since 1970 on the database's clock.

CREATE TABLE IF NOT EXISTS request_slots (
    host TEXT PRIMARY KEY,
    next_at REAL NOT NULL,
    window_start REAL NOT NULL,
    window_count INTEGER NOT NULL DEFAULT 0,
    pace REAL NOT NULL DEFAULT 0,
    calm INTEGER NOT NULL DEFAULT 0,
    refusals INTEGER NOT NULL DEFAULT 0,
    retry_until REAL NOT NULL DEFAULT 0,
    holder TEXT,
    held_at REAL NOT NULL DEFAULT 0,
    held_until REAL NOT NULL DEFAULT 0
);

-- ===================================================================== series records
-- The series pages read (desktop full list, or mobile): the series' own summary, genres, status, tome
-- count, origin, language and publishers, cached with a TTL like albums (cache.series_ttl_days); which
-- series lists which album; and the series id learned for each series slug of the catalogue index
-- (the sitemaps name no series id: the first album page read of a series does).

CREATE TABLE IF NOT EXISTS bdgest_series (
    id INTEGER PRIMARY KEY,             -- Bédéthèque series id
    title TEXT NOT NULL,
    slug TEXT,                          -- as in its URLs (serie-{id}-BD-{slug}.html)
    url TEXT,
    summary TEXT,
    genres JSON,                        -- ["Fantasy", ...]
    status TEXT,                        -- as the site words it: "Série finie", "En cours"
    tome_count INTEGER,                 -- regular tomes it lists (else its header's count)
    origin TEXT,
    language TEXT,
    publishers JSON,                    -- every publisher of its albums, in page order
    publisher TEXT,                     -- chosen once, never replaced (bdnex_core/bedetheque/series.py)
    template TEXT,                      -- desktop (its albums read whole) or mobile
    cached_date TIMESTAMP,
    cache_valid_until TIMESTAMP,
    metadata JSON                       -- the whole record, with its albums (SeriesRecord.to_dict())
);

CREATE TABLE IF NOT EXISTS bdgest_series_albums (
    album_id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    position INTEGER                    -- in the series page's list
);

CREATE TABLE IF NOT EXISTS catalogue_series_ids (
    series_slug TEXT PRIMARY KEY,
    series_id INTEGER,                  -- NULL: the album page of one of its albums named no series
    learned_at TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_bdgest_series_albums_series ON bdgest_series_albums(series_id, position);

-- ===================================================================== archive journal
-- In-place writes into archives in progress (bdnex_core/archives/inplace.py): made durable before
-- the archive's first byte changes, deleted in the transaction that records the written file (or
-- right after a write nobody records). An entry left by a dead writer is taken back by the next
-- opening of the database: the archive gets original_tail at tail_offset, its original size and
-- mtime. One entry per file: two in-place writes of one file never run together.

CREATE TABLE IF NOT EXISTS archive_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_path TEXT NOT NULL UNIQUE,     -- the archive, as the writer opened it
    file_identity TEXT NOT NULL,        -- "device:inode": a file replaced since is not touched
    host TEXT NOT NULL,                 -- the writer's machine and process
    pid INTEGER NOT NULL,
    started_ns INTEGER NOT NULL,        -- the writer's clock, nanoseconds since 1970
    original_size INTEGER NOT NULL,
    original_mtime_ns INTEGER NOT NULL,
    tail_offset INTEGER NOT NULL,       -- where the write begins
    original_tail BLOB NOT NULL,        -- the bytes from tail_offset to the original end
    original_tail_sha256 TEXT NOT NULL,
    new_size INTEGER NOT NULL,
    new_tail_sha256 TEXT NOT NULL
);

-- ===================================================================== cover fingerprints
-- Perceptual fingerprints of covers (bdnex_core/covers/fingerprint.py, text "c1:<hex>"), computed
-- once: a file's front cover per content hash (the SHA-256 of processed_files.file_hash: a renamed
-- or moved file keeps it), an album's Bédéthèque cover per album id beside the album cache.

CREATE TABLE IF NOT EXISTS file_covers (
    file_hash TEXT PRIMARY KEY,         -- SHA-256 of the archive's bytes
    fingerprint TEXT NOT NULL,
    page TEXT,                          -- the archive member taken as the cover, and why
    computed_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS album_covers (
    album_id INTEGER PRIMARY KEY,       -- bdgest_albums.id
    cover_url TEXT,
    fingerprint TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL
);
