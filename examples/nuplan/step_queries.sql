-- sqlpool example: the 145 read-only queries of one nuPlan simulation step.
--
-- Modelled on nuPlan's scenario queries (nuplan/database/nuplan_db/
-- nuplan_scenario_queries.py) as a closed-loop simulation step issues them:
-- ego state, traffic lights, tracked objects, timestamps, mission goal and
-- route, a short sampled history and future. nuPlan opens a new SQLite
-- connection for each batch; examples/simulator compares that with one
-- sqlpool pool. Runs against a database made by schema.sql + generate.sql.
--
-- Weight: calibrated to the reference step of issue 5 (145 light queries,
-- about 0.24 ms inside one read transaction per batch, 0.68 ms on a held
-- autocommit connection, 1.56 ms with a new connection per batch). Most
-- queries are point lookups by token (about a microsecond of SQLite each); the
-- multi-row ones return a handful of rows for one frame (4 traffic lights, 4
-- tracked objects with the default gen_params) or sample a 0.5 s window
-- (11 frames); about 190 rows a step. So the per-statement costs a pool
-- changes (autocommit locking, compiling, a connection per batch) weigh as
-- much as SQLite's execution, as in the reference. The former step (2 s
-- history and 8 s horizon windows, 40 boxes and 30 lights a frame, about
-- 2,900 rows, some 15 times heavier) is step_queries_heavy.sql.
--
-- Format (parsed by examples/simulator, examples/nuplan/check_sql.py, the
-- Rust, C and Python benchmarks and the Python tests; keep it):
--   * "-- batch N: title" starts batch N (1..8); batches are in order.
--   * Every other line that is empty or starts with "--" is a comment.
--   * Every remaining line is one query: "SQL -- params: NAMES", where SQL
--     never contains "--" and NAMES is a comma-separated list (no spaces,
--     possibly empty) of the step variables bound to the ?s, in order.
--
-- Step variables, for the step's lidar_pc frame:
--   lidar_pc_token          BLOB     lidar_pc.token
--   timestamp               INTEGER  lidar_pc.timestamp (microseconds)
--   timestamp_window_start  INTEGER  timestamp - 2000000 (2 s of history)
--   timestamp_window_end    INTEGER  timestamp + 8000000 (8 s horizon)
-- (This step's windows are "? - 500000" / "? + 500000" on timestamp; the
-- 2 s / 8 s variables are used by step_queries_heavy.sql.)
--
-- Multi-row results have an ORDER BY, so the rows (and a checksum over them)
-- are the same whatever connection, SQLite version or query plan runs them.

-- batch 1: step start: time, map, ego state (14 queries)
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT l.map_version FROM log AS l INNER JOIN lidar AS ld ON ld.log_token = l.token INNER JOIN lidar_pc AS lp ON lp.lidar_token = ld.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT l.translation, l.rotation FROM lidar AS l INNER JOIN lidar_pc AS lp ON lp.lidar_token = l.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT MAX(timestamp) AS max_time FROM lidar_pc -- params: 
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token

-- batch 2: observation: traffic lights (24 queries)
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = ? ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = ? ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token

-- batch 3: observation: tracked objects (16 queries)
SELECT c.name AS category_name, lb.x, lb.y, lb.z, lb.yaw, lb.width, lb.length, lb.height, lb.vx, lb.vy, lb.token, lb.track_token, lp.timestamp FROM lidar_box AS lb INNER JOIN track AS t ON t.token = lb.track_token INNER JOIN category AS c ON c.token = t.category_token INNER JOIN lidar_pc AS lp ON lp.token = lb.lidar_pc_token WHERE lp.token = ? ORDER BY lb.track_token ASC -- params: lidar_pc_token
SELECT c.name AS category_name, lb.x, lb.y, lb.z, lb.yaw, lb.width, lb.length, lb.height, lb.vx, lb.vy, lb.token, lb.track_token, lp.timestamp FROM lidar_box AS lb INNER JOIN track AS t ON t.token = lb.track_token INNER JOIN category AS c ON c.token = t.category_token INNER JOIN lidar_pc AS lp ON lp.token = lb.lidar_pc_token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) ORDER BY lb.track_token ASC -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token

-- batch 4: planner input: history buffer (18 queries)
WITH numbered AS (SELECT token, timestamp, ROW_NUMBER() OVER (ORDER BY timestamp ASC) AS row_num FROM lidar_pc WHERE timestamp >= ? - 500000 AND timestamp <= ?) SELECT token FROM numbered WHERE ((row_num - 1) % 5) = 0 ORDER BY timestamp ASC -- params: timestamp,timestamp
SELECT c.name AS category_name, lb.x, lb.y, lb.z, lb.yaw, lb.width, lb.length, lb.height, lb.vx, lb.vy, lb.token, lb.track_token, lp.timestamp FROM lidar_box AS lb INNER JOIN track AS t ON t.token = lb.track_token INNER JOIN category AS c ON c.token = t.category_token INNER JOIN lidar_pc AS lp ON lp.token = lb.lidar_pc_token WHERE lp.timestamp >= ? - 50000 AND lp.timestamp <= ? ORDER BY lp.timestamp ASC, lb.track_token ASC -- params: timestamp,timestamp
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token

-- batch 5: planner input: traffic lights (24 queries)
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = ? ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = ? ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT CASE WHEN tl.status = 'green' THEN 0 WHEN tl.status = 'yellow' THEN 1 WHEN tl.status = 'red' THEN 2 ELSE 3 END AS status, tl.lane_connector_id, lp.timestamp AS timestamp FROM lidar_pc AS lp INNER JOIN traffic_light_status AS tl ON lp.token = tl.lidar_pc_token WHERE lp.token = (SELECT prev_token FROM lidar_pc WHERE token = ?) ORDER BY tl.lane_connector_id ASC -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token

-- batch 6: planner input: mission and route (20 queries)
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN scene AS s ON s.goal_ego_pose_token = ep.token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN scene AS s ON s.goal_ego_pose_token = ep.token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN scene AS s ON s.goal_ego_pose_token = ep.token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN scene AS s ON s.goal_ego_pose_token = ep.token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT s.roadblock_ids FROM scene AS s INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT s.roadblock_ids FROM scene AS s INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT s.roadblock_ids FROM scene AS s INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT s.roadblock_ids FROM scene AS s INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT st.type, st.agent_track_token FROM scenario_tag AS st INNER JOIN lidar_pc AS lp ON lp.token = st.lidar_pc_token WHERE lp.token = ? ORDER BY st.type ASC -- params: lidar_pc_token
SELECT st.type, st.agent_track_token FROM scenario_tag AS st INNER JOIN lidar_pc AS lp ON lp.token = st.lidar_pc_token WHERE lp.token = ? ORDER BY st.type ASC -- params: lidar_pc_token
SELECT st.type, st.agent_track_token FROM scenario_tag AS st INNER JOIN lidar_pc AS lp ON lp.token = st.lidar_pc_token WHERE lp.token = ? ORDER BY st.type ASC -- params: lidar_pc_token
SELECT st.type, st.agent_track_token FROM scenario_tag AS st INNER JOIN lidar_pc AS lp ON lp.token = st.lidar_pc_token WHERE lp.token = ? ORDER BY st.type ASC -- params: lidar_pc_token
SELECT s.token, s.name, l.map_version FROM scene AS s INNER JOIN log AS l ON l.token = s.log_token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT s.token, s.name, l.map_version FROM scene AS s INNER JOIN log AS l ON l.token = s.log_token INNER JOIN lidar_pc AS lp ON lp.scene_token = s.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token

-- batch 7: metrics: future horizon (18 queries)
WITH numbered AS (SELECT token, timestamp, ROW_NUMBER() OVER (ORDER BY timestamp ASC) AS row_num FROM lidar_pc WHERE timestamp >= ? AND timestamp <= ? + 500000) SELECT token FROM numbered WHERE ((row_num - 1) % 5) = 0 ORDER BY timestamp ASC -- params: timestamp,timestamp
SELECT timestamp, x, y, qw, qz, vx, vy, acceleration_x, acceleration_y FROM ego_pose WHERE timestamp >= ? AND timestamp <= ? + 500000 AND (timestamp - ?) % 100000 < 10000 ORDER BY timestamp ASC -- params: timestamp,timestamp,timestamp
SELECT c.name AS category_name, lb.x, lb.y, lb.z, lb.yaw, lb.width, lb.length, lb.height, lb.vx, lb.vy, lb.token, lb.track_token, lp.timestamp FROM lidar_box AS lb INNER JOIN track AS t ON t.token = lb.track_token INNER JOIN category AS c ON c.token = t.category_token INNER JOIN lidar_pc AS lp ON lp.token = lb.lidar_pc_token WHERE lp.token = (SELECT next_token FROM lidar_pc WHERE token = ?) ORDER BY lb.track_token ASC -- params: lidar_pc_token
SELECT c.name AS category_name, lb.x, lb.y, lb.z, lb.yaw, lb.width, lb.length, lb.height, lb.vx, lb.vy, lb.token, lb.track_token, lp.timestamp FROM lidar_box AS lb INNER JOIN track AS t ON t.token = lb.track_token INNER JOIN category AS c ON c.token = t.category_token INNER JOIN lidar_pc AS lp ON lp.token = lb.lidar_pc_token WHERE lp.token = ? ORDER BY lb.track_token ASC -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT next_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT next_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT next_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = (SELECT next_token FROM lidar_pc WHERE token = ?) -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT token, next_token, prev_token, ego_pose_token, lidar_token, scene_token, filename, timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token

-- batch 8: metrics: step summary (11 queries)
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz, lp.timestamp, ep.vx, ep.vy, ep.acceleration_x, ep.acceleration_y FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT timestamp FROM lidar_pc WHERE token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT ep.x, ep.y, ep.qw, ep.qx, ep.qy, ep.qz FROM ego_pose AS ep INNER JOIN lidar_pc AS lp ON lp.ego_pose_token = ep.token WHERE lp.token = ? -- params: lidar_pc_token
SELECT st.type, st.agent_track_token FROM scenario_tag AS st INNER JOIN lidar_pc AS lp ON lp.token = st.lidar_pc_token WHERE lp.token = ? ORDER BY st.type ASC -- params: lidar_pc_token
SELECT MAX(timestamp) AS max_time FROM lidar_pc -- params: 
