-- sqlpool example data: the schema of a nuPlan log database.
--
-- Tables, columns and tokens follow nuPlan's per-log SQLite files (one .db per
-- driving log): every row is identified by an 8-byte BLOB `token`, and
-- `<table>_token` columns are foreign keys to other tables' tokens. Camera and
-- image tables are left out: the simulation step never reads them.
--
-- Shared by examples/simulator (C++), the Rust benchmarks (include_str!) and
-- Python tests (stdlib sqlite3, SQLite >= 3.40): keep it plain SQL.
--
-- Use: run this file, optionally insert a row into gen_params to change the
-- size, then run generate.sql.

-- Size of the generated log. generate.sql inserts the row (id = 1) with these
-- defaults unless one was inserted first, e.g.
--   INSERT INTO gen_params(id, frames) VALUES (1, 500);
-- The defaults (2,000 frames, 4 boxes and 4 traffic lights a frame, about
-- 5 MB) give step_queries.sql the weight of issue 5's reference step: one
-- frame's queries return a handful of rows each. step_queries_heavy.sql, the
-- former step, was made for 40 boxes and 30 lights a frame (about 23 MB):
--   INSERT INTO gen_params(id, boxes_per_frame, lights_per_frame) VALUES (1, 40, 30);
CREATE TABLE IF NOT EXISTS gen_params (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    frames            INTEGER NOT NULL DEFAULT 2000 CHECK (frames >= 1),     -- lidar_pc rows, 20 Hz
    ego_per_frame     INTEGER NOT NULL DEFAULT 5 CHECK (ego_per_frame >= 1), -- ego_pose rows per lidar_pc (100 Hz)
    frames_per_scene  INTEGER NOT NULL DEFAULT 100 CHECK (frames_per_scene >= 1),
    boxes_per_frame   INTEGER NOT NULL DEFAULT 4 CHECK (boxes_per_frame >= 1),
    track_life        INTEGER NOT NULL DEFAULT 100 CHECK (track_life >= 1),   -- frames a track stays visible
    lights_per_frame  INTEGER NOT NULL DEFAULT 4 CHECK (lights_per_frame >= 0),
    tag_every         INTEGER NOT NULL DEFAULT 10 CHECK (tag_every >= 1),     -- a scenario tag every N frames
    base_timestamp    INTEGER NOT NULL DEFAULT 1630335846000000              -- microseconds since the epoch
);

CREATE TABLE log (
    token         BLOB NOT NULL PRIMARY KEY,
    vehicle_name  TEXT,
    date          TEXT,
    timestamp     INTEGER,
    logfile       TEXT,
    location      TEXT,
    map_version   TEXT
);

CREATE TABLE lidar (
    token        BLOB NOT NULL PRIMARY KEY,
    log_token    BLOB NOT NULL,
    channel      TEXT,
    model        TEXT,
    translation  BLOB,
    rotation     BLOB
);

CREATE TABLE ego_pose (
    token           BLOB NOT NULL PRIMARY KEY,
    timestamp       INTEGER,
    x               REAL,
    y               REAL,
    z               REAL,
    qw              REAL,
    qx              REAL,
    qy              REAL,
    qz              REAL,
    vx              REAL,
    vy              REAL,
    vz              REAL,
    acceleration_x  REAL,
    acceleration_y  REAL,
    acceleration_z  REAL,
    angular_rate_x  REAL,
    angular_rate_y  REAL,
    angular_rate_z  REAL,
    epsg            INTEGER,
    log_token       BLOB NOT NULL
);

CREATE TABLE scene (
    token                BLOB NOT NULL PRIMARY KEY,
    log_token            BLOB NOT NULL,
    name                 TEXT,
    goal_ego_pose_token  BLOB,          -- NULL: no valid mission goal
    roadblock_ids        TEXT           -- space-separated roadblock ids of the route
);

CREATE TABLE lidar_pc (
    token           BLOB NOT NULL PRIMARY KEY,
    next_token      BLOB,
    prev_token      BLOB,
    ego_pose_token  BLOB NOT NULL,
    lidar_token     BLOB NOT NULL,
    scene_token     BLOB,
    filename        TEXT,
    timestamp       INTEGER
);

CREATE TABLE traffic_light_status (
    token              BLOB NOT NULL PRIMARY KEY,
    lidar_pc_token     BLOB NOT NULL,
    lane_connector_id  INTEGER,
    status             TEXT           -- 'green', 'yellow', 'red' or 'unknown'
);

CREATE TABLE category (
    token        BLOB NOT NULL PRIMARY KEY,
    name         TEXT,
    description  TEXT
);

CREATE TABLE track (
    token           BLOB NOT NULL PRIMARY KEY,
    category_token  BLOB NOT NULL,
    width           REAL,
    length          REAL,
    height          REAL
);

CREATE TABLE lidar_box (
    token           BLOB NOT NULL PRIMARY KEY,
    lidar_pc_token  BLOB NOT NULL,
    track_token     BLOB NOT NULL,
    next_token      BLOB,
    prev_token      BLOB,
    x               REAL,
    y               REAL,
    z               REAL,
    width           REAL,
    length          REAL,
    height          REAL,
    vx              REAL,
    vy              REAL,
    vz              REAL,
    yaw             REAL,
    confidence      REAL
);

CREATE TABLE scenario_tag (
    token              BLOB NOT NULL PRIMARY KEY,
    lidar_pc_token     BLOB NOT NULL,
    type               TEXT,
    agent_track_token  BLOB
);

-- Indexes on the timestamps and foreign-key tokens that the scenario queries
-- filter and join on.
CREATE INDEX idx_lidar_log_token ON lidar (log_token);
CREATE INDEX idx_ego_pose_timestamp ON ego_pose (timestamp);
CREATE INDEX idx_ego_pose_log_token ON ego_pose (log_token);
CREATE INDEX idx_scene_log_token ON scene (log_token);
CREATE INDEX idx_lidar_pc_timestamp ON lidar_pc (timestamp);
CREATE INDEX idx_lidar_pc_scene_token ON lidar_pc (scene_token);
CREATE INDEX idx_lidar_pc_ego_pose_token ON lidar_pc (ego_pose_token);
CREATE INDEX idx_lidar_pc_lidar_token ON lidar_pc (lidar_token);
CREATE INDEX idx_traffic_light_status_lidar_pc_token ON traffic_light_status (lidar_pc_token);
CREATE INDEX idx_track_category_token ON track (category_token);
CREATE INDEX idx_lidar_box_lidar_pc_token ON lidar_box (lidar_pc_token);
CREATE INDEX idx_lidar_box_track_token ON lidar_box (track_token);
CREATE INDEX idx_scenario_tag_lidar_pc_token ON scenario_tag (lidar_pc_token);
CREATE INDEX idx_scenario_tag_type ON scenario_tag (type);
