-- sqlpool example data: fills the schema of schema.sql with one synthetic,
-- nuPlan-shaped driving log.
--
-- Pure SQL and deterministic: no random(), no extension functions, nothing
-- newer than SQLite 3.40 (no unhex(), no math functions); every value is
-- integer arithmetic on row numbers, so two runs, on any platform, give the
-- same database. Run schema.sql first. The size comes from the gen_params row
-- (inserted below with its column defaults unless the caller inserted one):
-- about 2,000 lidar_pc frames at 20 Hz, 10,000 ego poses, 8,000 lidar boxes
-- (4 a frame), 8,000 traffic light statuses (4 a frame): about 5 MB, generated
-- in a fraction of a second. The density is that of the light step of
-- step_queries.sql (issue 5's reference weight: a handful of rows per frame);
-- step_queries_heavy.sql wants 40 boxes and 30 lights a frame (about 23 MB).
--
-- Runs inside a SAVEPOINT, so it works inside or outside a caller's transaction.
--
-- Tokens: 8-byte BLOBs, byte 0 = the table's kind (1 log, 2 lidar, 3 ego_pose,
-- 4 scene, 5 lidar_pc, 6 traffic_light_status, 7 category, 8 track,
-- 9 lidar_box, 10 scenario_tag), bytes 1..7 = 7-bit chunks of a hash of the
-- row number that is a bijection for row numbers below 2^32, so tokens are
-- unique and look random (built with char(), which is why each byte is < 0x80).

INSERT OR IGNORE INTO gen_params (id) VALUES (1);

SAVEPOINT nuplan_generate;

-- 0 .. N-1, N = the largest row count of any table.
CREATE TEMP TABLE _n (i INTEGER PRIMARY KEY);
WITH RECURSIVE
    p AS (SELECT * FROM gen_params WHERE id = 1),
    lim(n) AS (
        SELECT max(frames * ego_per_frame, frames * boxes_per_frame,
                   frames * lights_per_frame, 2 * frames + 2, 16)
        FROM p
    ),
    seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq, lim WHERE i + 1 < lim.n)
INSERT INTO _n (i) SELECT i FROM seq;

-- One row per lidar box: frame f, slot k, and the track it belongs to. Slot k
-- of frame f follows one track for track_life frames, staggered by 7 frames
-- per slot so tracks do not all start and end together.
CREATE TEMP TABLE _box (
    id       INTEGER PRIMARY KEY,
    f        INTEGER NOT NULL,
    k        INTEGER NOT NULL,
    age      INTEGER NOT NULL,   -- frames since this track's first box
    track_n  INTEGER NOT NULL
);
INSERT INTO _box (id, f, k, age, track_n)
SELECT n.i,
       n.i / p.boxes_per_frame,
       n.i % p.boxes_per_frame,
       (n.i / p.boxes_per_frame + (n.i % p.boxes_per_frame) * 7) % p.track_life,
       ((n.i / p.boxes_per_frame + (n.i % p.boxes_per_frame) * 7) / p.track_life) * p.boxes_per_frame
           + n.i % p.boxes_per_frame
FROM _n AS n, gen_params AS p
WHERE p.id = 1 AND n.i < p.frames * p.boxes_per_frame;

CREATE INDEX _box_track_n ON _box (track_n);

-- Tracks: category and size from a hash of the track number.
CREATE TEMP TABLE _track (
    n       INTEGER PRIMARY KEY,
    hc      INTEGER NOT NULL,    -- hash of n, 32 bits
    cat     INTEGER NOT NULL,    -- 0 vehicle .. 6 generic_object
    speed   REAL NOT NULL,       -- how fast this category moves, 0 = static
    width   REAL NOT NULL,
    length  REAL NOT NULL,
    height  REAL NOT NULL
);
INSERT INTO _track (n, hc, cat, speed, width, length, height)
SELECT n, hc, cat,
       CASE cat WHEN 0 THEN 1.0 WHEN 1 THEN 0.15 WHEN 2 THEN 0.5 ELSE 0.0 END,
       CASE cat WHEN 0 THEN 1.95 WHEN 1 THEN 0.7 WHEN 2 THEN 0.7 WHEN 3 THEN 0.4
                WHEN 4 THEN 0.6 WHEN 5 THEN 0.6 ELSE 1.0 END + noise,
       CASE cat WHEN 0 THEN 4.8 WHEN 1 THEN 0.7 WHEN 2 THEN 1.8 WHEN 3 THEN 0.4
                WHEN 4 THEN 2.0 WHEN 5 THEN 0.6 ELSE 1.0 END + 2 * noise,
       CASE cat WHEN 0 THEN 1.65 WHEN 1 THEN 1.75 WHEN 2 THEN 1.5 WHEN 3 THEN 0.8
                WHEN 4 THEN 1.0 WHEN 5 THEN 1.5 ELSE 1.0 END + noise
FROM (
    SELECT n, hc,
           CASE WHEN hc % 100 < 55 THEN 0 WHEN hc % 100 < 75 THEN 1
                WHEN hc % 100 < 83 THEN 2 WHEN hc % 100 < 89 THEN 3
                WHEN hc % 100 < 94 THEN 4 WHEN hc % 100 < 97 THEN 5 ELSE 6 END AS cat,
           ((hc / 100) % 41 - 20) * 0.005 AS noise
    FROM (SELECT DISTINCT track_n AS n, (track_n * 2654435761 + 12345) % 4294967296 AS hc FROM _box)
);

-- Scenario tags: frame f gets tag j = 0 every tag_every frames and a second
-- one (j = 1) every 3 * tag_every frames; row number n = 2 f + j.
CREATE TEMP TABLE _tag (
    n     INTEGER PRIMARY KEY,
    f     INTEGER NOT NULL,
    type  INTEGER NOT NULL       -- index into the type names below
);
INSERT INTO _tag (n, f, type)
SELECT 2 * n.i + j.j, n.i, ((n.i / p.tag_every) * 5 + j.j * 7) % 14
FROM _n AS n, gen_params AS p, (SELECT 0 AS j UNION ALL SELECT 1) AS j
WHERE p.id = 1 AND n.i < p.frames
  AND n.i % p.tag_every = 0
  AND (j.j = 0 OR n.i % (3 * p.tag_every) = 0);

-- Every token, by (kind, row number).
CREATE TEMP TABLE _tok (
    kind   INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    token  BLOB NOT NULL,
    PRIMARY KEY (kind, n)
) WITHOUT ROWID;
INSERT INTO _tok (kind, n, token)
SELECT kind, n,
       CAST(char(kind, (h >> 25) & 127, (h >> 18) & 127, (h >> 11) & 127, (h >> 4) & 127,
                 ((h & 15) << 3) | (g & 7), (g >> 3) & 127, (g >> 10) & 127) AS BLOB)
FROM (
    SELECT kind, n,
           (n * 2654435761 + kind * 374761393) % 4294967296 AS h,
           (n * 40503 + kind * 2246822519) % 131072 AS g
    FROM (
                  SELECT 1 AS kind, 0 AS n
        UNION ALL SELECT 2, 0
        UNION ALL SELECT 3, i FROM _n, gen_params AS p WHERE p.id = 1 AND i < p.frames * p.ego_per_frame
        UNION ALL SELECT 4, i FROM _n, gen_params AS p
                  WHERE p.id = 1 AND i < (p.frames + p.frames_per_scene - 1) / p.frames_per_scene
        UNION ALL SELECT 5, i FROM _n, gen_params AS p WHERE p.id = 1 AND i < p.frames
        UNION ALL SELECT 6, i FROM _n, gen_params AS p WHERE p.id = 1 AND i < p.frames * p.lights_per_frame
        UNION ALL SELECT 7, i FROM _n WHERE i < 7
        UNION ALL SELECT 8, n FROM _track
        UNION ALL SELECT 9, id FROM _box
        UNION ALL SELECT 10, n FROM _tag
    )
)
ORDER BY kind, n;

INSERT INTO log (token, vehicle_name, date, timestamp, logfile, location, map_version)
SELECT (SELECT token FROM _tok WHERE kind = 1 AND n = 0),
       'veh-40', '2021-08-30', p.base_timestamp,
       '2021.08.30.14.54.34_veh-40_00439_00835', 'las_vegas', 'us-nv-las-vegas-strip'
FROM gen_params AS p WHERE p.id = 1;

INSERT INTO lidar (token, log_token, channel, model, translation, rotation)
VALUES ((SELECT token FROM _tok WHERE kind = 2 AND n = 0),
        (SELECT token FROM _tok WHERE kind = 1 AND n = 0),
        'MergedPointCloud', 'Pandar64 + 5x Hesai XT32',
        CAST('[1.3, 0.0, 1.82]' AS BLOB), CAST('[0.7071, 0.0, 0.0, 0.7071]' AS BLOB));

-- Ego poses at ego_per_frame per lidar frame (100 Hz by default), driving at
-- 10 m/s along x and zig-zagging in y (slope +-0.2, period 800 frames).
-- Heading as a unit quaternion from t = tan(yaw / 2): qw = (1 - t^2) / (1 + t^2),
-- qz = 2 t / (1 + t^2), which needs no trigonometry.
INSERT INTO ego_pose (token, timestamp, x, y, z, qw, qx, qy, qz, vx, vy, vz,
                      acceleration_x, acceleration_y, acceleration_z,
                      angular_rate_x, angular_rate_y, angular_rate_z, epsg, log_token)
SELECT t.token,
       p.base_timestamp + e * (50000 / p.ego_per_frame) + (e % 7) * 3,
       664430.25 + 0.5 * e / p.ego_per_frame,
       3996950.5 + abs((e % (800 * p.ego_per_frame)) * 1.0 / p.ego_per_frame - 400.0) * 0.1,
       606.5 + (e % 50) * 0.001,
       (1.0 - th * th) / (1.0 + th * th), 0.0, 0.0, 2.0 * th / (1.0 + th * th),
       9.5 + ((e * 13) % 100) * 0.01, ((e * 17) % 21 - 10) * 0.002, 0.0,
       ((e * 29) % 41 - 20) * 0.01, ((e * 31) % 33 - 16) * 0.005, ((e * 7) % 9 - 4) * 0.001,
       ((e * 11) % 9 - 4) * 0.0005, ((e * 19) % 9 - 4) * 0.0005, -th * 0.02,
       32611,
       (SELECT token FROM _tok WHERE kind = 1 AND n = 0)
FROM (
    SELECT n.i AS e,
           CASE WHEN n.i % (800 * p.ego_per_frame) < 400 * p.ego_per_frame THEN -0.0993 ELSE 0.0993 END
               + ((n.i * 37) % 11 - 5) * 0.0005 AS th
    FROM _n AS n, gen_params AS p
    WHERE p.id = 1 AND n.i < p.frames * p.ego_per_frame
) AS ego
JOIN _tok AS t ON t.kind = 3 AND t.n = ego.e
CROSS JOIN gen_params AS p ON p.id = 1;

-- Scenes of frames_per_scene frames; the mission goal is the ego pose at the
-- scene's last frame, missing (NULL) for every 7th scene.
INSERT INTO scene (token, log_token, name, goal_ego_pose_token, roadblock_ids)
SELECT t.token,
       (SELECT token FROM _tok WHERE kind = 1 AND n = 0),
       printf('scene-%04d', t.n),
       CASE WHEN t.n % 7 = 6 THEN NULL ELSE
           (SELECT token FROM _tok
            WHERE kind = 3
              AND n = (min((t.n + 1) * p.frames_per_scene, p.frames) - 1) * p.ego_per_frame) END,
       printf('%d %d %d %d %d %d', 47000 + 4 * t.n, 47001 + 4 * t.n, 47002 + 4 * t.n,
              47003 + 4 * t.n, 47004 + 4 * t.n, 47005 + 4 * t.n + (t.n % 3))
FROM _tok AS t, gen_params AS p
WHERE p.id = 1 AND t.kind = 4;

INSERT INTO lidar_pc (token, next_token, prev_token, ego_pose_token, lidar_token, scene_token,
                      filename, timestamp)
SELECT t.token,
       (SELECT token FROM _tok WHERE kind = 5 AND n = t.n + 1),
       (SELECT token FROM _tok WHERE kind = 5 AND n = t.n - 1),
       (SELECT token FROM _tok WHERE kind = 3 AND n = t.n * p.ego_per_frame),
       (SELECT token FROM _tok WHERE kind = 2 AND n = 0),
       (SELECT token FROM _tok WHERE kind = 4 AND n = t.n / p.frames_per_scene),
       '2021.08.30.14.54.34_veh-40_00439_00835/MergedPointCloud/' || lower(hex(t.token)) || '.pcd',
       p.base_timestamp + t.n * 50000 + 137
FROM _tok AS t, gen_params AS p
WHERE p.id = 1 AND t.kind = 5;

-- lights_per_frame traffic lights per frame; the intersection (the set of lane
-- connectors) changes every 400 frames, and each light cycles green (45%),
-- yellow (5%), red (45%), unknown (5%) over 240 frames, phase-shifted per light.
INSERT INTO traffic_light_status (token, lidar_pc_token, lane_connector_id, status)
SELECT t.token,
       (SELECT token FROM _tok WHERE kind = 5 AND n = t.n / p.lights_per_frame),
       20000 + ((t.n / p.lights_per_frame / 400) * 17 + t.n % p.lights_per_frame) % 120,
       CASE WHEN q < 108 THEN 'green' WHEN q < 120 THEN 'yellow'
            WHEN q < 228 THEN 'red' ELSE 'unknown' END
FROM (
    SELECT t.kind, t.n, t.token,
           (t.n / p.lights_per_frame + (t.n % p.lights_per_frame) * 37) % 240 AS q
    FROM _tok AS t, gen_params AS p
    WHERE p.id = 1 AND t.kind = 6
) AS t
CROSS JOIN gen_params AS p ON p.id = 1;

INSERT INTO category (token, name, description)
SELECT t.token, c.name, c.description
FROM _tok AS t
JOIN (          SELECT 0 AS n, 'vehicle' AS name, 'Includes all four or more wheeled vehicles, as well as trailers.' AS description
      UNION ALL SELECT 1, 'pedestrian', 'All types of pedestrians, incl. strollers and wheelchairs.'
      UNION ALL SELECT 2, 'bicycle', 'Includes bicycles, motorcycles and tricycles.'
      UNION ALL SELECT 3, 'traffic_cone', 'Cones that are temporarily placed to control the flow of traffic.'
      UNION ALL SELECT 4, 'barrier', 'Solid barriers that can be either temporary or permanent.'
      UNION ALL SELECT 5, 'czone_sign', 'Temporary construction zone traffic sign.'
      UNION ALL SELECT 6, 'generic_object', 'Animals, debris, pushable/pullable objects, permanent poles.'
     ) AS c ON c.n = t.n
WHERE t.kind = 7;

INSERT INTO track (token, category_token, width, length, height)
SELECT (SELECT token FROM _tok WHERE kind = 8 AND n = tr.n),
       (SELECT token FROM _tok WHERE kind = 7 AND n = tr.cat),
       tr.width, tr.length, tr.height
FROM _track AS tr;

-- Boxes: around the ego pose of their frame, moving with their track's velocity.
INSERT INTO lidar_box (token, lidar_pc_token, track_token, next_token, prev_token,
                       x, y, z, width, length, height, vx, vy, vz, yaw, confidence)
SELECT (SELECT token FROM _tok WHERE kind = 9 AND n = b.id),
       (SELECT token FROM _tok WHERE kind = 5 AND n = b.f),
       (SELECT token FROM _tok WHERE kind = 8 AND n = b.track_n),
       CASE WHEN b.age + 1 < p.track_life THEN
           (SELECT token FROM _tok WHERE kind = 9 AND n = b.id + p.boxes_per_frame) END,
       CASE WHEN b.age > 0 THEN
           (SELECT token FROM _tok WHERE kind = 9 AND n = b.id - p.boxes_per_frame) END,
       664430.25 + 0.5 * b.f + ((b.k * 37) % 81 - 40) + b.age * vx * 0.05,
       3996950.5 + abs(b.f % 800 - 400) * 0.1 + ((b.k * 53) % 61 - 30) + b.age * vy * 0.05,
       606.0 + (b.k % 5) * 0.1,
       tr.width + ((b.id * 7) % 5 - 2) * 0.001,
       tr.length + ((b.id * 11) % 5 - 2) * 0.001,
       tr.height + ((b.id * 13) % 5 - 2) * 0.001,
       vx + ((b.id * 17) % 11 - 5) * 0.01,
       vy + ((b.id * 19) % 11 - 5) * 0.01,
       0.0,
       ((tr.hc / 8) % 6283) * 0.001 - 3.1415 + b.age * 0.001,
       0.5 + ((b.id * 2654435761) % 4294967296 % 500) * 0.001
FROM _box AS b
JOIN (SELECT n, hc, width, length, height,
             speed * (((hc / 128) % 201) - 100) * 0.1 AS vx,
             speed * (((hc / 32768) % 201) - 100) * 0.03 AS vy
      FROM _track) AS tr ON tr.n = b.track_n
CROSS JOIN gen_params AS p ON p.id = 1
ORDER BY b.id;

-- Scenario tags; the agent-centred types name the track of one box of the frame.
INSERT INTO scenario_tag (token, lidar_pc_token, type, agent_track_token)
SELECT (SELECT token FROM _tok WHERE kind = 10 AND n = g.n),
       (SELECT token FROM _tok WHERE kind = 5 AND n = g.f),
       ty.name,
       CASE WHEN g.type < 6 THEN
           (SELECT token FROM _tok WHERE kind = 8 AND n =
               (SELECT track_n FROM _box
                WHERE id = g.f * p.boxes_per_frame + (g.f / p.tag_every) % p.boxes_per_frame)) END
FROM _tag AS g
JOIN (          SELECT 0 AS n, 'following_lane_with_lead' AS name
      UNION ALL SELECT 1, 'stopping_with_lead'
      UNION ALL SELECT 2, 'behind_long_vehicle'
      UNION ALL SELECT 3, 'waiting_for_pedestrian_to_cross'
      UNION ALL SELECT 4, 'near_multiple_vehicles'
      UNION ALL SELECT 5, 'near_multiple_pedestrians'
      UNION ALL SELECT 6, 'starting_left_turn'
      UNION ALL SELECT 7, 'starting_right_turn'
      UNION ALL SELECT 8, 'starting_straight_traffic_light_intersection_traversal'
      UNION ALL SELECT 9, 'stationary_in_traffic'
      UNION ALL SELECT 10, 'high_magnitude_speed'
      UNION ALL SELECT 11, 'low_magnitude_speed'
      UNION ALL SELECT 12, 'changing_lane'
      UNION ALL SELECT 13, 'on_pickup_dropoff'
     ) AS ty ON ty.n = g.type
CROSS JOIN gen_params AS p ON p.id = 1
ORDER BY g.n;

DROP TABLE _tag;
DROP TABLE _track;
DROP TABLE _box;
DROP TABLE _tok;
DROP TABLE _n;

RELEASE nuplan_generate;
