"""nuPlan's ORM shapes over the nuPlan-shaped log of examples/nuplan, for the
tests and the ORM benchmarks: declarative models with 8-byte BLOB tokens
through a hex TypeDecorator and relationships, the ``Table`` accessor
(get, select_one, select_many, count, len, [i], iteration with yield_per),
and nuPlan's own SessionManager (one engine and one Session per thread per
process, over a creator that opens a read-only sqlite3 connection), the
reference. Works on SQLAlchemy 1.4 and 2.x."""

import os
import sqlite3
import threading

from sqlalchemy import Column, Float, ForeignKey, Integer, LargeBinary, String, create_engine
from sqlalchemy.orm import Session, relationship
from sqlalchemy.types import TypeDecorator

try:
    from sqlalchemy.orm import declarative_base
except ImportError:  # pragma: no cover - SQLAlchemy < 1.4
    from sqlalchemy.ext.declarative import declarative_base


class HexLen8(TypeDecorator):
    """nuPlan's token type: 8 bytes in SQLite, a hex str in Python."""

    impl = LargeBinary(8)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else bytearray.fromhex(value)

    def process_result_value(self, value, dialect):
        return None if value is None else bytes(value).hex()


Base = declarative_base()


class Log(Base):
    __tablename__ = "log"
    token = Column(HexLen8, primary_key=True)
    vehicle_name = Column(String)
    location = Column(String)
    timestamp = Column(Integer)


class Lidar(Base):
    __tablename__ = "lidar"
    token = Column(HexLen8, primary_key=True)
    log_token = Column(HexLen8, ForeignKey("log.token"), nullable=False)
    channel = Column(String)
    log = relationship("Log")


class EgoPose(Base):
    __tablename__ = "ego_pose"
    token = Column(HexLen8, primary_key=True)
    timestamp = Column(Integer)
    x = Column(Float)
    y = Column(Float)
    z = Column(Float)
    log_token = Column(HexLen8, ForeignKey("log.token"), nullable=False)


class Scene(Base):
    __tablename__ = "scene"
    token = Column(HexLen8, primary_key=True)
    log_token = Column(HexLen8, ForeignKey("log.token"), nullable=False)
    name = Column(String)
    log = relationship("Log")


class Category(Base):
    __tablename__ = "category"
    token = Column(HexLen8, primary_key=True)
    name = Column(String)


class Track(Base):
    __tablename__ = "track"
    token = Column(HexLen8, primary_key=True)
    category_token = Column(HexLen8, ForeignKey("category.token"), nullable=False)
    width = Column(Float)
    category = relationship("Category")


class LidarPc(Base):
    __tablename__ = "lidar_pc"
    token = Column(HexLen8, primary_key=True)
    next_token = Column(HexLen8, ForeignKey("lidar_pc.token"))
    prev_token = Column(HexLen8, ForeignKey("lidar_pc.token"))
    ego_pose_token = Column(HexLen8, ForeignKey("ego_pose.token"), nullable=False)
    lidar_token = Column(HexLen8, ForeignKey("lidar.token"), nullable=False)
    scene_token = Column(HexLen8, ForeignKey("scene.token"))
    filename = Column(String)
    timestamp = Column(Integer)
    ego_pose = relationship("EgoPose")
    lidar = relationship("Lidar")
    scene = relationship("Scene")
    lidar_boxes = relationship("LidarBox", back_populates="lidar_pc", order_by="LidarBox.token")
    next = relationship("LidarPc", foreign_keys=[next_token], remote_side=[token])


class LidarBox(Base):
    __tablename__ = "lidar_box"
    token = Column(HexLen8, primary_key=True)
    lidar_pc_token = Column(HexLen8, ForeignKey("lidar_pc.token"), nullable=False)
    track_token = Column(HexLen8, ForeignKey("track.token"), nullable=False)
    x = Column(Float)
    y = Column(Float)
    lidar_pc = relationship("LidarPc", back_populates="lidar_boxes")
    track = relationship("Track")


class Table:
    """nuPlan's ``nuplan.database.common.db.Table``: the call shapes of NuPlanDB."""

    def __init__(self, model, db):
        self._model = model
        self._db = db

    @property
    def _session(self):
        return self._db.session

    def get(self, token):
        return self._session.get(self._model, token)

    def select_one(self, **filters):
        return self._session.query(self._model).filter_by(**filters).one_or_none()

    def select_many(self, **filters):
        return self._session.query(self._model).filter_by(**filters).all()

    def count(self, **filters):
        return self._session.query(self._model).filter_by(**filters).count()

    def __len__(self):
        return self._session.query(self._model).count()

    def __getitem__(self, index):
        return self._session.query(self._model)[index]

    def __iter__(self):
        return iter(self._session.query(self._model).yield_per(2000))


class NuplanSessionManager:
    """nuPlan's SessionManager: an engine and a Session per thread per
    process, over a creator that opens a read-only sqlite3 connection
    (SQLAlchemy's default QueuePool on each engine)."""

    def __init__(self, path):
        self._path = os.path.abspath(path)
        self._local = threading.local()
        self._pid = None

    def _creator(self):
        return sqlite3.connect(f"file:{self._path}?mode=ro", uri=True, check_same_thread=False)

    @property
    def session(self):
        pid = os.getpid()
        if self._pid != pid:
            self._local = threading.local()
            self._pid = pid
        session = getattr(self._local, "session", None)
        if session is None:
            engine = create_engine("sqlite://", creator=self._creator)
            session = self._local.session = Session(bind=engine, autoflush=False)
        return session


def row_of(obj):
    """An ORM object's column values, to compare two engines' results."""
    if obj is None:
        return None
    return tuple(getattr(obj, c.key) for c in obj.__table__.columns)


def scenario(db, tokens):
    """Every nuPlan call shape through ``db`` (an object with ``.session``);
    the results as plain values."""
    lidar_pc = Table(LidarPc, db)
    lidar_box = Table(LidarBox, db)
    scene = Table(Scene, db)
    out = []
    for token in tokens:
        pc = lidar_pc.get(token)
        out.append(row_of(pc))
        out.append(row_of(pc.ego_pose))
        out.append(row_of(pc.scene))
        out.append([row_of(b) for b in pc.lidar_boxes])
        out.append([row_of(b.track.category) for b in pc.lidar_boxes])
        out.append(row_of(pc.next))
        out.append(row_of(lidar_pc.select_one(token=token)))
        out.append(sorted(row_of(b) for b in lidar_box.select_many(lidar_pc_token=token)))
        out.append(lidar_box.count(lidar_pc_token=token))
    out.append(len(lidar_pc))
    out.append(row_of(lidar_pc[3]))
    out.append(row_of(scene[0]))
    out.append(sum(1 for _ in lidar_box))
    out.append([row_of(s) for s in scene])
    return out


def lidar_pc_tokens(path, n, step=7):
    """``n`` lidar_pc tokens (hex) of the log at ``path``."""
    db = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT token FROM lidar_pc ORDER BY timestamp").fetchall()
    finally:
        db.close()
    return [rows[(i * step) % len(rows)][0].hex() for i in range(n)]
