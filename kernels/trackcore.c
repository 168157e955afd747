/* The C twin of one track's per-sample path (core/tracks.py TrackBank.push with the default preprocessing:
 * velocity_source "pose", no smoothing), compiled into _cstream beside the network's C path.
 *
 * A raw sample costs ~7 us through the Python reference (TrackBank.push: the teleport check, the
 * OnlineResampler's grid logic and interval sums, PositionJitter's noise estimate, the range checks, the
 * queued grid sample), which made a 1000-target message ~8 ms of a node's round (docs/nodes.md). StreamCore
 * holds that state for one track and does the same steps in the same order with the same float arithmetic:
 *
 *   StreamCore(dt, max_gap, max_backwards, max_speed, speed_limit, constants, as_xyz)
 *       constants: (GAP_HISTORY, LOW_RATE_GAP_FACTOR, LOW_RATE_GAP_CAP, MIN_INTERVAL_SAMPLES) of
 *       data/preprocess.py and (RATE, LOG_FLOOR_M, PRIOR_M, offset, MIN_SAMPLES, min rate count) of
 *       data/noise.py, passed in by core/tracks.py (one source); as_xyz: core.resampler.as_xyz, for positions
 *       that are not a tuple or list of three floats.
 *   push(stamp, position, noise, queue) -> n or (reset, ignored, teleport, unusable, n)
 *       one raw sample (stamp a float, noise None or the supplied level): the grid samples it completes are
 *       appended to `queue` as TrackBank queues them ((vx, vy, vz, noise level, ux, uy, uz) for each one with a
 *       velocity; TrackBank appends the attitude in Python where it reads one), n is their count; an int when
 *       nothing else happened, else the tuple with reason codes
 *       (reset: 0 none, 1 gap, 2 time_backwards, 3 manual; ignored: 0 none, 1 non_finite, 2 duplicate,
 *       3 out_of_order) for TrackBank to report (unusable: grid samples outside speed_limit or not finite,
 *       none queued, the core reset as the reference does; n still counts them, as the reference returns).
 *   reset(): OnlineResampler.reset (a manual reset, reported with the next sample).
 *   Attributes as the reference's: last_stamp, gap_limit, segment, count (the noise estimate's quadruples),
 *   level, sigma, noise_level, supplied_noise, last_grid ((stamp, (x, y, z)) of the newest grid sample).
 * test/unit/core/test_core_trackcore.py holds whole faulty multi-track streams through both to equal events
 * and queued samples (bit for bit). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "trackcore.h"

#define HISTORY_MAX 16

enum { RESET_NONE, RESET_GAP, RESET_TIME_BACKWARDS, RESET_MANUAL };
enum { IGNORED_NONE, IGNORED_NON_FINITE, IGNORED_DUPLICATE, IGNORED_OUT_OF_ORDER };

typedef struct {
    double stamp, position[3], velocity[3], interval[3];
    int has_velocity, has_interval;
} GridSample;

typedef struct {
    PyObject_HEAD
    PyObject *as_xyz;
    /* configuration */
    double dt, max_gap, max_backwards, max_speed, speed_limit, gap_factor, gap_cap;
    int gap_history, min_interval;
    double j_rate, j_log_floor_m, j_log_floor, j_prior, j_offset;
    long j_min_samples, j_min_rate_count;
    /* resampler (core/resampler.py OnlineResampler) */
    int started;                                         /* t0 is set (a segment is open) */
    double t0, ref[3];
    long interval_n;
    double interval_sums[4];                             /* sum of t - t0, x - ref x, ... of the open interval */
    int has_last_mean;
    double last_mean[4];
    double last_stamp, last_raw[3];
    long count;                                          /* grid samples of the segment */
    int has_last_position;
    double last_position[3];
    double recent[HISTORY_MAX];                          /* the last raw steps (a ring), for the gap limit */
    int n_recent, recent_next;
    double gap_limit;
    long segment;
    int pending_reset;
    /* noise estimate (data/noise.py PositionJitter) and the supplied level */
    double j_recent[3][4];
    int j_n;
    double j_mean;
    long j_count;
    int has_supplied;
    double supplied;
    /* the newest grid sample */
    int has_grid;
    double grid_stamp, grid_position[3];
    /* work buffer for one push's grid samples */
    GridSample *samples;
    Py_ssize_t samples_cap;
} StreamCore;

/* ---- the resampler ------------------------------------------------------------------------------------- */
static void start_segment(StreamCore *c, double stamp, const double *xyz, int started)
{
    c->started = started;
    c->t0 = stamp;
    if (started)
        memcpy(c->ref, xyz, sizeof c->ref);
    c->interval_n = 0;
    memset(c->interval_sums, 0, sizeof c->interval_sums);
    c->has_last_mean = 0;
    c->last_stamp = stamp;
    if (started)
        memcpy(c->last_raw, xyz, sizeof c->last_raw);
    c->count = 0;
    c->has_last_position = 0;
}

static void core_reset(StreamCore *c)
{
    if (c->started)
        c->pending_reset = RESET_MANUAL;
    start_segment(c, 0.0, NULL, 0);
}

static void update_gap_limit(StreamCore *c, double step)
{
    c->recent[c->recent_next] = step;
    c->recent_next = (c->recent_next + 1) % c->gap_history;
    if (c->n_recent < c->gap_history)
        c->n_recent++;
    double shortest = c->recent[0];
    for (int i = 1; i < c->n_recent; i++)
        shortest = c->recent[i] < shortest ? c->recent[i] : shortest;
    /* max(max_gap, min(cap, factor * shortest)) with Python's min/max (no NaN here: steps are > 0) */
    double stretched = c->gap_factor * shortest;
    stretched = stretched < c->gap_cap ? stretched : c->gap_cap;
    c->gap_limit = stretched > c->max_gap ? stretched : c->max_gap;
}

static void count_raw(StreamCore *c, double stamp, const double *xyz)
{
    c->interval_n += 1;
    c->interval_sums[0] += stamp - c->t0;
    for (int a = 0; a < 3; a++)
        c->interval_sums[1 + a] += xyz[a] - c->ref[a];
}

static int interval_velocity(StreamCore *c, double stamp, const double *raw, double *out)
{
    double mean[4];
    const long n = c->interval_n;
    if (n >= c->min_interval) {
        for (int i = 0; i < 4; i++)
            mean[i] = c->interval_sums[i] / (double)n;
    } else {                                             /* too few raw samples: the grid sample itself */
        mean[0] = stamp - c->t0;
        for (int a = 0; a < 3; a++)
            mean[1 + a] = raw[a] - c->ref[a];
    }
    c->interval_n = 0;
    memset(c->interval_sums, 0, sizeof c->interval_sums);
    const int had = c->has_last_mean;
    double last[4];
    memcpy(last, c->last_mean, sizeof last);
    memcpy(c->last_mean, mean, sizeof mean);
    c->has_last_mean = 1;
    if (!had)
        return 0;
    const double span = mean[0] - last[0];
    for (int a = 0; a < 3; a++)
        out[a] = (mean[1 + a] - last[1 + a]) / span;
    return 1;
}

static void emit(StreamCore *c, double stamp, const double *raw, GridSample *s)
{
    if (c->count == 0)
        count_raw(c, stamp, raw);
    s->has_interval = interval_velocity(c, stamp, raw, s->interval);
    s->stamp = stamp;
    memcpy(s->position, raw, sizeof s->position);
    s->has_velocity = c->has_last_position;
    if (c->has_last_position)
        for (int a = 0; a < 3; a++)
            s->velocity[a] = (raw[a] - c->last_position[a]) / c->dt;
    memcpy(c->last_position, raw, sizeof c->last_position);
    c->has_last_position = 1;
    c->count += 1;
}

static int reserve(StreamCore *c, Py_ssize_t n)
{
    if (n <= c->samples_cap)
        return 0;
    Py_ssize_t cap = c->samples_cap ? c->samples_cap : 8;
    while (cap < n)
        cap *= 2;
    GridSample *grown = PyMem_Realloc(c->samples, sizeof(GridSample) * (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->samples = grown;
    c->samples_cap = cap;
    return 0;
}

/* OnlineResampler.consume: *reset / *ignored codes, grid samples into c->samples; -1 on memory error. */
static Py_ssize_t consume(StreamCore *c, double stamp, const double *xyz, int *reset, int *ignored)
{
    *reset = RESET_NONE;
    *ignored = IGNORED_NONE;
    if (!(isfinite(stamp) && isfinite(xyz[0]) && isfinite(xyz[1]) && isfinite(xyz[2]))) {
        *ignored = IGNORED_NON_FINITE;
        return 0;
    }
    int begin = -1;
    if (!c->started) {
        begin = c->pending_reset;
    } else {
        const double step = stamp - c->last_stamp, limit = c->gap_limit;
        if (step > 0)
            update_gap_limit(c, step);
        if (step > limit)
            begin = RESET_GAP;
        else if (step < -c->max_backwards)
            begin = RESET_TIME_BACKWARDS;
        else if (step <= 0) {
            *ignored = step == 0 ? IGNORED_DUPLICATE : IGNORED_OUT_OF_ORDER;
            return 0;
        }
    }
    if (reserve(c, 1) < 0)
        return -1;
    if (begin >= 0) {                                    /* a new segment: its first grid sample is this one */
        *reset = begin;
        c->pending_reset = RESET_NONE;
        c->segment += 1;
        start_segment(c, stamp, xyz, 1);
        emit(c, stamp, xyz, &c->samples[0]);
        return 1;
    }
    /* grid samples t0 + k dt up to stamp, interpolated between the previous raw sample and this one */
    const double t0 = c->t0, dt = c->dt, t_a = c->last_stamp;
    double a[3];
    memcpy(a, c->last_raw, sizeof a);
    long k = c->count;
    c->last_stamp = stamp;
    memcpy(c->last_raw, xyz, sizeof c->last_raw);
    Py_ssize_t n = 0;
    int counted = 0;
    double g = t0 + (double)k * dt;
    while (g <= stamp) {
        const double w = (g - t_a) / (stamp - t_a);
        if (g == stamp) {                                /* a raw sample exactly at a grid stamp closes it */
            count_raw(c, stamp, xyz);
            counted = 1;
        }
        if (reserve(c, n + 1) < 0)
            return -1;
        const double raw[3] = {a[0] + w * (xyz[0] - a[0]), a[1] + w * (xyz[1] - a[1]), a[2] + w * (xyz[2] - a[2])};
        emit(c, g, raw, &c->samples[n++]);
        k += 1;
        g = t0 + (double)k * dt;
    }
    if (!counted)
        count_raw(c, stamp, xyz);
    return n;
}

/* ---- the noise estimate ---------------------------------------------------------------------------------- */
/* data/noise.py _quadruple: 1 and *value, or 0 when the spacing is too uneven or a difference not finite */
static int quadruple(const StreamCore *c, const double *a, const double *b, const double *cc, const double *d,
                     double *value)
{
    const double ta = a[0], tb = b[0], tc = cc[0], td = d[0];
    const double span = td - ta, ab = tb - ta, bc = tc - tb, cd = td - tc, ac = tc - ta, bd = td - tb;
    double shortest = ab;                                /* Python's min(ab, bc, cd) */
    shortest = bc < shortest ? bc : shortest;
    shortest = cd < shortest ? cd : shortest;
    if (shortest < span / 12)
        return 0;
    const double scale = 6.0 * pow(span / 3.0, 3.0) / span;
    double m[3];
    for (int i = 1; i <= 3; i++) {
        const double f1 = (cc[i] - b[i]) / bc;
        m[i - 1] = fabs(((d[i] - cc[i]) / cd - f1) / bd - (f1 - (b[i] - a[i]) / ab) / ac) * scale;
    }
    if (!(m[0] < INFINITY && m[1] < INFINITY && m[2] < INFINITY))
        return 0;
    double logs[3];
    for (int i = 0; i < 3; i++)
        logs[i] = m[i] > c->j_log_floor_m ? log(m[i]) : c->j_log_floor;
    *value = (logs[0] + logs[1] + logs[2]) / 3.0;
    return 1;
}

static void jitter_add(StreamCore *c, double stamp, const double *xyz)
{
    if (c->j_n && !(stamp > c->j_recent[c->j_n - 1][0]))
        return;
    const double sample[4] = {stamp, xyz[0], xyz[1], xyz[2]};
    if (c->j_n == 3) {
        double value;
        if (quadruple(c, c->j_recent[0], c->j_recent[1], c->j_recent[2], sample, &value)) {
            const long count = c->j_count + 1;
            const double weight = count <= c->j_min_rate_count ? 1.0 / (double)count : c->j_rate;
            c->j_mean += weight * (value - c->j_mean);
            c->j_count = count;
        }
        memmove(c->j_recent[0], c->j_recent[1], sizeof(double) * 8);
        c->j_n = 2;
    }
    memcpy(c->j_recent[c->j_n++], sample, sizeof sample);
}

static double jitter_level(const StreamCore *c)
{
    return c->j_count == 0 ? c->j_prior : exp(c->j_mean + c->j_offset);
}

/* ---- push ------------------------------------------------------------------------------------------------- */
static int read_xyz(StreamCore *c, PyObject *position, double *xyz)
{
    if ((PyTuple_CheckExact(position) || PyList_CheckExact(position)) && PySequence_Fast_GET_SIZE(position) == 3) {
        PyObject **items = PySequence_Fast_ITEMS(position);
        if (PyFloat_CheckExact(items[0]) && PyFloat_CheckExact(items[1]) && PyFloat_CheckExact(items[2])) {
            for (int a = 0; a < 3; a++)
                xyz[a] = PyFloat_AS_DOUBLE(items[a]);
            return 0;
        }
    }
    PyObject *list = PyObject_CallOneArg(c->as_xyz, position);   /* the reference's conversion and errors */
    if (list == NULL)
        return -1;
    int ok = PyList_Check(list) && PyList_GET_SIZE(list) == 3;
    for (int a = 0; ok && a < 3; a++) {
        xyz[a] = PyFloat_AsDouble(PyList_GET_ITEM(list, a));
        ok = !(xyz[a] == -1.0 && PyErr_Occurred());
    }
    Py_DECREF(list);
    if (!ok && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "StreamCore: as_xyz must return a list of 3 floats");
    return ok ? 0 : -1;
}

static int in_limit(double v, double limit)
{
    return -limit <= v && v <= limit;                   /* NaN fails */
}

static PyObject *core_push(StreamCore *c, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "StreamCore.push(stamp, position, noise, queue: list)");
        return NULL;
    }
    if (c->as_xyz == NULL) {
        PyErr_SetString(PyExc_ValueError, "StreamCore was not initialised");
        return NULL;
    }
    const double stamp = PyFloat_AsDouble(args[0]);
    if (stamp == -1.0 && PyErr_Occurred())
        return NULL;
    double xyz[3], noise = NAN;
    if (read_xyz(c, args[1], xyz) < 0)
        return NULL;
    const int noise_given = args[2] != Py_None;
    if (noise_given) {
        noise = PyFloat_AsDouble(args[2]);
        if (noise == -1.0 && PyErr_Occurred())
            return NULL;
    }
    /* TrackBank._is_teleport: implied speed from the last accepted raw sample above max_speed */
    int teleport = 0;
    if (c->started) {
        const double step = stamp - c->last_stamp;
        if (0 < step && step <= c->gap_limit && isfinite(xyz[0]) && isfinite(xyz[1]) && isfinite(xyz[2])) {
            const double dx = xyz[0] - c->last_raw[0], dy = xyz[1] - c->last_raw[1], dz = xyz[2] - c->last_raw[2];
            teleport = sqrt(dx * dx + dy * dy + dz * dz) > c->max_speed * step;
        }
    }
    if (teleport)
        core_reset(c);
    int reset, ignored;
    Py_ssize_t n = consume(c, stamp, xyz, &reset, &ignored);
    if (n < 0)
        return NULL;
    if (!ignored) {                                      /* the segment's noise estimate and supplied level */
        if (reset || teleport) {
            c->j_n = 0;
            c->j_mean = 0.0;
            c->j_count = 0;
            c->has_supplied = 0;
        }
        jitter_add(c, stamp, xyz);
        if (noise_given && 0.0 < noise && noise < INFINITY) {
            c->has_supplied = 1;
            c->supplied = noise;
        }
    }
    int unusable = 0;                                    /* TrackBank._usable */
    for (Py_ssize_t i = 0; i < n && !unusable; i++) {
        const GridSample *s = &c->samples[i];
        unusable = !(isfinite(s->position[0]) && isfinite(s->position[1]) && isfinite(s->position[2]));
        if (!unusable && s->has_velocity)
            for (int a = 0; a < 3; a++)
                unusable |= !in_limit(s->velocity[a], c->speed_limit) ||
                            !(s->has_interval && in_limit(s->interval[a], c->speed_limit));
    }
    if (unusable) {
        core_reset(c);                                   /* none queued; n still says how many were completed */
    } else if (n) {
        const double level = c->has_supplied ? c->supplied : jitter_level(c);
        for (Py_ssize_t i = 0; i < n; i++) {
            const GridSample *s = &c->samples[i];
            if (!s->has_velocity)
                continue;
            PyObject *item = Py_BuildValue("(ddddddd)", s->velocity[0], s->velocity[1], s->velocity[2], level,
                                           s->interval[0], s->interval[1], s->interval[2]);
            if (item == NULL || PyList_Append(args[3], item) < 0) {
                Py_XDECREF(item);
                return NULL;
            }
            Py_DECREF(item);
        }
        const GridSample *last = &c->samples[n - 1];
        c->has_grid = 1;
        c->grid_stamp = last->stamp;
        memcpy(c->grid_position, last->position, sizeof c->grid_position);
    }
    if (!reset && !ignored && !teleport && !unusable)
        return PyLong_FromSsize_t(n);
    return Py_BuildValue("(iiiin)", reset, ignored, teleport, unusable, n);
}

static PyObject *core_reset_method(StreamCore *c, PyObject *unused)
{
    (void)unused;
    core_reset(c);
    Py_RETURN_NONE;
}

/* ---- the type ---------------------------------------------------------------------------------------------- */
static int core_init(StreamCore *c, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"dt", "max_gap", "max_backwards", "max_speed", "speed_limit", "constants", "as_xyz",
                            NULL};
    PyObject *constants, *as_xyz;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "dddddOO", names, &c->dt, &c->max_gap, &c->max_backwards,
                                     &c->max_speed, &c->speed_limit, &constants, &as_xyz))
        return -1;
    double log_floor_m;
    if (!PyArg_ParseTuple(constants, "iddiddddll", &c->gap_history, &c->gap_factor, &c->gap_cap, &c->min_interval,
                          &c->j_rate, &log_floor_m, &c->j_prior, &c->j_offset, &c->j_min_samples,
                          &c->j_min_rate_count))
        return -1;
    if (c->gap_history < 1 || c->gap_history > HISTORY_MAX || !PyCallable_Check(as_xyz) || !(c->dt > 0)) {
        PyErr_SetString(PyExc_ValueError, "StreamCore: gap history 1..16, a callable as_xyz and dt > 0");
        return -1;
    }
    c->j_log_floor_m = log_floor_m;
    c->j_log_floor = log(log_floor_m);
    Py_XSETREF(c->as_xyz, Py_NewRef(as_xyz));
    c->gap_limit = c->max_gap;
    c->n_recent = c->recent_next = 0;
    c->segment = -1;
    c->pending_reset = RESET_NONE;
    c->j_n = 0;
    c->j_mean = 0.0;
    c->j_count = 0;
    c->has_supplied = 0;
    c->has_grid = 0;
    start_segment(c, 0.0, NULL, 0);
    return 0;
}

static void core_free(StreamCore *c)
{
    Py_XDECREF(c->as_xyz);
    PyMem_Free(c->samples);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *optional(int present, double value)
{
    return present ? PyFloat_FromDouble(value) : Py_NewRef(Py_None);
}

static PyObject *get_last_stamp(StreamCore *c, void *closure)
{
    (void)closure;
    return optional(c->started, c->last_stamp);
}

static PyObject *get_gap_limit(StreamCore *c, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(c->gap_limit);
}

static PyObject *get_segment(StreamCore *c, void *closure)
{
    (void)closure;
    return PyLong_FromLong(c->segment);
}

static PyObject *get_count(StreamCore *c, void *closure)
{
    (void)closure;
    return PyLong_FromLong(c->j_count);
}

static PyObject *get_level(StreamCore *c, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(jitter_level(c));
}

static PyObject *get_sigma(StreamCore *c, void *closure)
{
    (void)closure;
    return optional(c->j_count >= c->j_min_samples, exp(c->j_mean + c->j_offset));
}

static PyObject *get_noise_level(StreamCore *c, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(c->has_supplied ? c->supplied : jitter_level(c));
}

static PyObject *get_supplied(StreamCore *c, void *closure)
{
    (void)closure;
    return optional(c->has_supplied, c->supplied);
}

static PyObject *get_last_grid(StreamCore *c, void *closure)
{
    (void)closure;
    if (!c->has_grid)
        Py_RETURN_NONE;
    return Py_BuildValue("(d(ddd))", c->grid_stamp, c->grid_position[0], c->grid_position[1], c->grid_position[2]);
}

static PyGetSetDef core_getset[] = {
    {"last_stamp", (getter)get_last_stamp, NULL, "newest accepted raw stamp of the segment (None: none)", NULL},
    {"gap_limit", (getter)get_gap_limit, NULL, "longest raw step the next sample may follow (s)", NULL},
    {"segment", (getter)get_segment, NULL, "index of the current segment (-1 before any)", NULL},
    {"count", (getter)get_count, NULL, "quadruples in the segment's noise estimate", NULL},
    {"level", (getter)get_level, NULL, "the noise estimate (m) as the model reads it", NULL},
    {"sigma", (getter)get_sigma, NULL, "the noise estimate (m) for users; None until MIN_SAMPLES", NULL},
    {"noise_level", (getter)get_noise_level, NULL, "the supplied level, else the estimate (m)", NULL},
    {"supplied_noise", (getter)get_supplied, NULL, "the level supplied in this segment (None: none)", NULL},
    {"last_grid", (getter)get_last_grid, NULL, "(stamp, (x, y, z)) of the newest grid sample, or None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef core_methods[] = {
    {"push", (PyCFunction)(void (*)(void))core_push, METH_FASTCALL,
     "push(stamp, position, noise, queue) -> n or (reset, ignored, teleport, unusable, n) (see the source)"},
    {"reset", (PyCFunction)core_reset_method, METH_NOARGS, "forget the segment (reported with the next sample)"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject StreamCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uav_traj_predictor.kernels._cstream.StreamCore",
    .tp_basicsize = sizeof(StreamCore),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One track's per-sample path in C (see kernels/trackcore.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)core_init,
    .tp_dealloc = (destructor)core_free,
    .tp_methods = core_methods,
    .tp_getset = core_getset,
};

/* ==== AttitudeCore: the C twin of TrackBank._attitude (core/tracks.py) and data/attitude.py's ThrustAxis =========
 *
 * Through the Python reference the attitude of a grid sample costs ~6 us (unit_quaternion, orientation_at,
 * ThrustAxis.step, the tuple); AttitudeCore holds one vehicle's ThrustAxis state and the previous accepted raw
 * sample's (stamp, unit orientation) and does the same steps in the same order with the same float arithmetic
 * (frames.rotate's formula, the exponentially weighted updates, _moments, _check; `axis` squares with pow as
 * Python's ** does), so the queued samples are equal bit for bit (test/unit/core/test_core_attitude_c.py):
 *
 *   AttitudeCore(constants) (registered by kernels/cstream.c with the module's other types): (G, MIN_SAMPLES, RATE, SLOPE_RANGE, MIN_SPREAD, MAX_TILT_COS, MIN_WEIGHT,
 *       MIN_TILT_SPREAD) of data/attitude.py and frames.QUATERNION_TOLERANCE, passed in by core/tracks.py.
 *   push(queue, first, last, stamp, orientation, dt) -> whether the estimate exists (a valid orientation seen)
 *       the whole of TrackBank._attitude for one accepted raw sample: `orientation` read as unit_quaternion
 *       reads it, queue[first:] (the grid samples it completed, tuples whose first three items are the grid
 *       velocity) replaced by the tuples with (implied x, implied y, available) appended, from the orientation
 *       interpolated (orientation_at) at each grid stamp last - (newest - i) * dt.
 *   step(velocity, orientation, dt) -> (ix, iy, available): ThrustAxis.step (orientation a unit quaternion or
 *       None), for the tests. restart(): ThrustAxis.restart.
 *   Attributes as the reference's: available, slope, count, axis, reference, weight, seen. */

typedef struct {
    PyObject_HEAD
    int ready;
    double g, rate, slope_lo, slope_hi, min_spread, max_tilt_cos, min_weight, min_tilt_spread, q_tol;
    long min_samples;
    double sum_x, sum_y, sum_z;
    long count;
    int has_reference;
    double reference[3];
    double s_ii, s_mi, m_ix, m_iy, m_mx, m_my, m_size, weight;
    int available;
    int has_velocity, has_orientation;
    double velocity[3], orientation[4];
    int seen, has_raw;
    double raw_stamp, raw_q[4];
} AttitudeCore;


/* frames.rotate: v + 2w (q x v) + 2 q x (q x v), in its operation order */
static void att_rotate(const double *q, const double *v, double *out)
{
    double qx = q[0], qy = q[1], qz = q[2], qw = q[3], vx = v[0], vy = v[1], vz = v[2];
    double tx = 2.0 * (qy * vz - qz * vy), ty = 2.0 * (qz * vx - qx * vz), tz = 2.0 * (qx * vy - qy * vx);
    out[0] = vx + qw * tx + qy * tz - qz * ty;
    out[1] = vy + qw * ty + qz * tx - qx * tz;
    out[2] = vz + qw * tz + qx * ty - qy * tx;
}

static void att_implied(const AttitudeCore *a, const double *q, const double *axis, double *ix, double *iy)
{
    double t[3];
    att_rotate(q, axis, t);
    double tz = a->max_tilt_cos > t[2] ? a->max_tilt_cos : t[2];     /* Python's max(tz, MAX_TILT_COS) */
    double scale = a->g / tz;
    *ix = t[0] * scale;
    *iy = t[1] * scale;
}

static double att_square(double x)    /* Python's x ** 2: libm's pow (float_pow), never folded into x * x */
{
    volatile double two = 2.0;
    return pow(fabs(x), two);
}

/* ThrustAxis.axis: 1 and the unit axis, 0 when None */
static int att_axis(const AttitudeCore *a, double *axis)
{
    double norm = sqrt(att_square(a->sum_x) + att_square(a->sum_y) + att_square(a->sum_z));
    if (norm == 0.0)
        return 0;
    axis[0] = a->sum_x / norm;
    axis[1] = a->sum_y / norm;
    axis[2] = a->sum_z / norm;
    return 1;
}

static void att_moments(const AttitudeCore *a, double *variance, double *covariance, double *size)
{
    double w = a->weight;
    if (w <= 0.0) {
        *variance = *covariance = *size = 0.0;
        return;
    }
    double ix = a->m_ix / w, iy = a->m_iy / w, mx = a->m_mx / w, my = a->m_my / w, s = a->m_size / w;
    *variance = a->s_ii / w - (ix * ix + iy * iy);
    *covariance = a->s_mi / w - (mx * ix + my * iy);
    *size = a->s_ii / w - s * s;
}

static int att_check(const AttitudeCore *a)
{
    double variance, covariance, size;
    att_moments(a, &variance, &covariance, &size);
    return a->weight >= a->min_weight && variance >= a->min_spread && size >= a->min_tilt_spread
           && a->slope_lo * variance <= covariance && covariance <= a->slope_hi * variance;
}

/* ThrustAxis.step: q NULL when the orientation is None */
static void att_step(AttitudeCore *a, const double *v, const double *q, double dt, double *out)
{
    if (a->has_velocity && a->has_orientation) {
        const double *p = a->velocity, *lq = a->orientation;
        double m[3] = {(v[0] - p[0]) / dt, (v[1] - p[1]) / dt, (v[2] - p[2]) / dt + a->g};
        double mx = m[0], my = m[1];
        double norm = sqrt(mx * mx + my * my + m[2] * m[2]);
        if (norm > 0.0) {
            double inverse[4] = {-lq[0], -lq[1], -lq[2], lq[3]}, b[3];
            att_rotate(inverse, m, b);
            a->sum_x += b[0] / norm;
            a->sum_y += b[1] / norm;
            a->sum_z += b[2] / norm;
            a->count += 1;
            if (a->has_reference) {
                double ix, iy, r = a->rate;
                att_implied(a, lq, a->reference, &ix, &iy);
                a->s_ii += r * (ix * ix + iy * iy - a->s_ii);
                a->s_mi += r * (mx * ix + my * iy - a->s_mi);
                a->m_size += r * (sqrt(ix * ix + iy * iy) - a->m_size);
                a->m_ix += r * (ix - a->m_ix);
                a->m_iy += r * (iy - a->m_iy);
                a->m_mx += r * (mx - a->m_mx);
                a->m_my += r * (my - a->m_my);
                a->weight += r * (1.0 - a->weight);
                a->available = att_check(a);
            }
            if (a->count == a->min_samples)
                a->has_reference = att_axis(a, a->reference);
        }
    }
    a->has_velocity = 1;
    memcpy(a->velocity, v, sizeof a->velocity);
    a->has_orientation = q != NULL;
    if (q == NULL) {
        out[0] = out[1] = out[2] = 0.0;
        return;
    }
    memcpy(a->orientation, q, sizeof a->orientation);
    double sx = a->sum_x, sy = a->sum_y, sz = a->sum_z;
    double norm = sqrt(sx * sx + sy * sy + sz * sz);
    if (norm == 0.0) {
        out[0] = out[1] = out[2] = 0.0;
        return;
    }
    double axis[3] = {sx / norm, sy / norm, sz / norm};
    att_implied(a, q, axis, &out[0], &out[1]);
    out[2] = a->available ? 1.0 : 0.0;
}

/* float(item) into *out: 1, 0 when TypeError / ValueError (cleared: no rotation), -1 on another error */
static int att_float(PyObject *item, double *out)
{
    PyObject *f = PyNumber_Float(item);
    if (f == NULL)
        return -1;
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 1;
}

static int att_caught(void)
{
    if (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError)
        || PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* data/attitude.py unit_quaternion: 1 and q, 0 when None, -1 on an error the reference raises too */
static int att_unit(const AttitudeCore *a, PyObject *o, double *q)
{
    double v[4];
    if (o == Py_None)
        return 0;
    if (PyTuple_CheckExact(o) && PyTuple_GET_SIZE(o) == 4 && PyFloat_CheckExact(PyTuple_GET_ITEM(o, 0))
        && PyFloat_CheckExact(PyTuple_GET_ITEM(o, 1)) && PyFloat_CheckExact(PyTuple_GET_ITEM(o, 2))
        && PyFloat_CheckExact(PyTuple_GET_ITEM(o, 3))) {
        for (int k = 0; k < 4; k++)
            v[k] = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(o, k));
    } else {      /* x, y, z, w = (float(c) for c in q): exactly four items, each float() */
        PyObject *it = PyObject_GetIter(o);
        if (it == NULL)
            return att_caught();
        for (int k = 0; k < 5; k++) {
            PyObject *item = PyIter_Next(it);
            if (item == NULL) {
                Py_DECREF(it);
                if (PyErr_Occurred())
                    return att_caught();
                if (k < 4)
                    return 0;     /* too few: ValueError */
                break;
            }
            double value;
            int ok = att_float(item, &value);
            Py_DECREF(item);
            if (ok < 0) {
                Py_DECREF(it);
                return att_caught();
            }
            if (k == 4) {        /* too many: ValueError */
                Py_DECREF(it);
                return 0;
            }
            v[k] = value;
        }
    }
    double x = v[0], y = v[1], z = v[2], w = v[3];
    double norm = sqrt(x * x + y * y + z * z + w * w);
    if (!(fabs(norm - 1.0) < a->q_tol))
        return 0;
    q[0] = x / norm;
    q[1] = y / norm;
    q[2] = z / norm;
    q[3] = w / norm;
    return 1;
}

/* data/attitude.py orientation_at: the returned pointer is NULL (None), qb, or out */
static const double *att_orientation_at(double stamp, double t_a, const double *qa, double t_b, const double *qb,
                                        double *out)
{
    if (qa == NULL || qb == NULL)
        return NULL;
    if (!(t_b > t_a))
        return qb;
    double g = (stamp - t_a) / (t_b - t_a);
    double ax = qa[0], ay = qa[1], az = qa[2], aw = qa[3], bx = qb[0], by = qb[1], bz = qb[2], bw = qb[3];
    if (ax * bx + ay * by + az * bz + aw * bw < 0.0) {
        bx = -bx;
        by = -by;
        bz = -bz;
        bw = -bw;
    }
    double x = ax + g * (bx - ax), y = ay + g * (by - ay), z = az + g * (bz - az), w = aw + g * (bw - aw);
    double norm = sqrt(x * x + y * y + z * z + w * w);
    out[0] = x / norm;
    out[1] = y / norm;
    out[2] = z / norm;
    out[3] = w / norm;
    return out;
}

static int att_ready(AttitudeCore *a)
{
    if (!a->ready)
        PyErr_SetString(PyExc_ValueError, "AttitudeCore was not initialised");
    return a->ready;
}

static int att_velocity(PyObject *sample, double *v)
{
    if (PyTuple_CheckExact(sample) && PyTuple_GET_SIZE(sample) >= 3) {
        for (int k = 0; k < 3; k++) {
            v[k] = PyFloat_AsDouble(PyTuple_GET_ITEM(sample, k));
            if (v[k] == -1.0 && PyErr_Occurred())
                return -1;
        }
        return 0;
    }
    PyErr_SetString(PyExc_TypeError, "AttitudeCore.push: the queued grid samples must be tuples");
    return -1;
}

static PyObject *att_push(AttitudeCore *a, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "AttitudeCore.push(queue: list, first, last, stamp, orientation, dt)");
        return NULL;
    }
    if (!att_ready(a))
        return NULL;
    PyObject *queue = args[0];
    Py_ssize_t first = PyLong_AsSsize_t(args[1]);
    if (first == -1 && PyErr_Occurred())
        return NULL;
    double stamp = PyFloat_AsDouble(args[3]);
    if (stamp == -1.0 && PyErr_Occurred())
        return NULL;
    double dt = PyFloat_AsDouble(args[5]);
    if (dt == -1.0 && PyErr_Occurred())
        return NULL;
    double q[4];
    int valid = att_unit(a, args[4], q);
    if (valid < 0)
        return NULL;
    if (valid)
        a->seen = 1;
    Py_ssize_t n = PyList_GET_SIZE(queue);
    if (a->seen && n > first) {
        double last = PyFloat_AsDouble(args[2]);
        if (last == -1.0 && PyErr_Occurred())
            return NULL;
        Py_ssize_t newest = n - 1;
        const double *qa = a->has_raw ? a->raw_q : NULL, *qb = valid ? q : NULL;
        for (Py_ssize_t i = first < 0 ? 0 : first; i < n; i++) {
            PyObject *sample = PyList_GET_ITEM(queue, i);
            double v[3], at[4], out[3];
            if (att_velocity(sample, v) < 0)
                return NULL;
            double grid_stamp = last - (double)(newest - i) * dt;
            att_step(a, v, att_orientation_at(grid_stamp, a->raw_stamp, qa, stamp, qb, at), dt, out);
            Py_ssize_t size = PyTuple_GET_SIZE(sample);
            PyObject *joined = PyTuple_New(size + 3);
            if (joined == NULL)
                return NULL;
            for (Py_ssize_t k = 0; k < size; k++)
                PyTuple_SET_ITEM(joined, k, Py_NewRef(PyTuple_GET_ITEM(sample, k)));
            for (int k = 0; k < 3; k++) {
                PyObject *f = PyFloat_FromDouble(out[k]);
                if (f == NULL) {
                    Py_DECREF(joined);
                    return NULL;
                }
                PyTuple_SET_ITEM(joined, size + k, f);
            }
            PyList_SetItem(queue, i, joined);    /* steals joined, releases the old sample */
        }
    }
    a->raw_stamp = stamp;
    a->has_raw = valid;
    if (valid)
        memcpy(a->raw_q, q, sizeof a->raw_q);
    return PyBool_FromLong(a->seen);
}

/* step(velocity, orientation, dt): ThrustAxis.step with velocity a sequence of 3 floats and orientation a unit
 * quaternion (4 floats) or None */
static PyObject *att_step_method(AttitudeCore *a, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "AttitudeCore.step(velocity, orientation, dt)");
        return NULL;
    }
    if (!att_ready(a))
        return NULL;
    double v[3], q[4], out[3];
    PyObject *velocity = PySequence_Tuple(args[0]);
    if (velocity == NULL)
        return NULL;
    int parsed = PyArg_ParseTuple(velocity, "ddd", &v[0], &v[1], &v[2]);
    Py_DECREF(velocity);
    if (!parsed)
        return NULL;
    int has_q = args[1] != Py_None;
    if (has_q) {
        PyObject *t = PySequence_Tuple(args[1]);
        if (t == NULL)
            return NULL;
        int ok = PyArg_ParseTuple(t, "dddd", &q[0], &q[1], &q[2], &q[3]);
        Py_DECREF(t);
        if (!ok)
            return NULL;
    }
    double dt = PyFloat_AsDouble(args[2]);
    if (dt == -1.0 && PyErr_Occurred())
        return NULL;
    att_step(a, v, has_q ? q : NULL, dt, out);
    return Py_BuildValue("(ddd)", out[0], out[1], out[2]);
}

static PyObject *att_restart(AttitudeCore *a, PyObject *unused)
{
    (void)unused;
    a->has_velocity = a->has_orientation = 0;
    Py_RETURN_NONE;
}

static int att_init(AttitudeCore *a, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"constants", NULL};
    PyObject *constants;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", names, &constants))
        return -1;
    if (!PyArg_ParseTuple(constants, "dld(dd)ddddd", &a->g, &a->min_samples, &a->rate, &a->slope_lo, &a->slope_hi,
                          &a->min_spread, &a->max_tilt_cos, &a->min_weight, &a->min_tilt_spread, &a->q_tol))
        return -1;
    a->sum_x = a->sum_y = a->sum_z = 0.0;
    a->count = 0;
    a->has_reference = 0;
    a->s_ii = a->s_mi = a->m_ix = a->m_iy = a->m_mx = a->m_my = a->m_size = a->weight = 0.0;
    a->available = 0;
    a->has_velocity = a->has_orientation = 0;
    a->seen = a->has_raw = 0;
    a->raw_stamp = -INFINITY;
    a->ready = 1;
    return 0;
}

static PyObject *att_get_available(AttitudeCore *a, void *closure)
{
    (void)closure;
    return PyBool_FromLong(a->available);
}

static PyObject *att_get_seen(AttitudeCore *a, void *closure)
{
    (void)closure;
    return PyBool_FromLong(a->seen);
}

static PyObject *att_get_count(AttitudeCore *a, void *closure)
{
    (void)closure;
    return PyLong_FromLong(a->count);
}

static PyObject *att_get_weight(AttitudeCore *a, void *closure)
{
    (void)closure;
    return PyFloat_FromDouble(a->weight);
}

static PyObject *att_get_slope(AttitudeCore *a, void *closure)
{
    (void)closure;
    double variance, covariance, size;
    att_moments(a, &variance, &covariance, &size);
    return PyFloat_FromDouble(variance > 0 ? covariance / variance : 0.0);
}

static PyObject *att_get_axis(AttitudeCore *a, void *closure)
{
    (void)closure;
    double axis[3];
    if (!att_axis(a, axis))
        Py_RETURN_NONE;
    return Py_BuildValue("(ddd)", axis[0], axis[1], axis[2]);
}

static PyObject *att_get_reference(AttitudeCore *a, void *closure)
{
    (void)closure;
    if (!a->has_reference)
        Py_RETURN_NONE;
    return Py_BuildValue("(ddd)", a->reference[0], a->reference[1], a->reference[2]);
}

static PyGetSetDef att_getset[] = {
    {"available", (getter)att_get_available, NULL, "whether the consistency check passes", NULL},
    {"slope", (getter)att_get_slope, NULL, "regression slope of measured on implied acceleration", NULL},
    {"count", (getter)att_get_count, NULL, "grid accelerations in the axis estimate", NULL},
    {"axis", (getter)att_get_axis, NULL, "the thrust axis in the body frame (unit), or None", NULL},
    {"reference", (getter)att_get_reference, NULL, "the axis when it settled, or None", NULL},
    {"weight", (getter)att_get_weight, NULL, "weight of the consistency statistics", NULL},
    {"seen", (getter)att_get_seen, NULL, "whether a valid orientation was pushed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef att_methods[] = {
    {"push", (PyCFunction)(void (*)(void))att_push, METH_FASTCALL,
     "push(queue, first, last, stamp, orientation, dt) -> seen (TrackBank._attitude; see the source)"},
    {"step", (PyCFunction)(void (*)(void))att_step_method, METH_FASTCALL,
     "step(velocity, orientation, dt) -> (ix, iy, available): ThrustAxis.step"},
    {"restart", (PyCFunction)att_restart, METH_NOARGS, "forget the previous grid sample, keep the estimate"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject AttitudeCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uav_traj_predictor.kernels._cstream.AttitudeCore",
    .tp_basicsize = sizeof(AttitudeCore),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One vehicle's thrust-axis estimate and attitude path in C (see kernels/trackcore.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)att_init,
    .tp_methods = att_methods,
    .tp_getset = att_getset,
};

