/* Fused CPU path for the streaming update of any number of tracks: GRU steps and the horizon head, in C.
 *
 * Python-level numpy costs ~1 us per call on 3-vectors and 96-wide rows, so a few tracks' update through
 * the numpy path is dominated by call overhead (kernels/README.md); many tracks are stepped and predicted
 * BLOCK at a time, each weight vector loaded once per block (affine_block), which beats the batched
 * numpy/torch calls at every track count measured (kernels/dispatch.py). `Plan` holds float32 copies of the
 * weights in the layouts of kernels/cpu.py and the head's post-processing constants, and works on the
 * caller's numpy arrays:
 *
 *   advance(tracks, slots, step_lists, last_positions, min_history, max_speed, out, ready, noise_prior)
 *       n tracks in one call: each stepped with its list of new grid samples ((vx, vy, vz),
 *       (vx, vy, vz, noise m), (vx, vy, vz, noise m, ux, uy, uz) or (vx, vy, vz, noise m, ux, uy, uz,
 *       ax, ay, available)), then (count >= min_history) predicted into out[i]; validates
 *       everything before changing any state (see plan_advance). `tracks` is the predictor's one state
 *       object (model/slots.py TrackSlots: arrays gru (L, N, H) float32, top (N, H) float32,
 *       last_velocity (N, 3) float64, count (N,) int64, active (N,) bool, advanced in place).
 *       Per track: the input features (model/spec.py ModelSpec.features, float32) and every layer's
 *       GRU step in place on gru[:, slot, :] per sample (step_row), then the head of ModelSpec.head
 *       and the constant-velocity-plus-residual integration of StreamingPredictor.predict into
 *       out[i] = [positions | velocities | std] (3, S, 3) float64 (predict_row); ready[i] False when an
 *       output is non-finite or the track is warming up: the caller's general path makes those.
 *
 * float64 arithmetic follows numpy's order exactly (build with -ffp-contract=off); float32 dot products
 * sum in another order than BLAS, so results match the numpy path to float32 rounding (tests).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "trackcore.h"

#define MAX_LAYERS 16
#define MAX_FEATURES 13          /* velocity 3 | acceleration 3 | noise 1 | interval 3 | attitude 3 */
#define SAMPLE_VALUES 10         /* a parsed grid sample: vx, vy, vz, noise, ux, uy, uz, ax, ay, available */
#define BLOCK 6                  /* tracks whose products share one pass over the weights (advance) */

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"          /* 32-byte vectors pass only between inlined helpers */
#endif

/* x86-64: an AVX2 clone of the dot-product loops beside the baseline (SSE2) one, picked at load time. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef VECTOR_CLONES
#define VECTOR_CLONES
#endif

typedef struct {
    PyObject_HEAD
    int layers, hidden, features, scaled, accel, noise, interval, attitude, head_hidden, steps, edges;
    int out_cols;                                     /* 6 * steps rounded up to 16: w2's stored columns */
    double noise_floor, noise_log_center, noise_width;   /* the measured-noise input (noise = 1) */
    int layer_inputs[MAX_LAYERS];
    float *w_step[MAX_LAYERS], *b_step[MAX_LAYERS];   /* (I + H, 4H), (4H,) per layer */
    float *inv_scale;                                 /* (scaled,): velocity | acceleration scales */
    float inv_attitude[2];                            /* 1 / accel_scale_xy of the attitude input (attitude = 1) */
    float *w1, *b1, *w2, *b2;                         /* (H, M), (M,), (M, out_cols) zero-padded, (6S,) */
    double *low, *high, *log_residual_scale, *head_scale, *edge_values, *speed_factor;
    double dt;
    float *xh, *g, *mlp, *out32;                      /* work buffers */
} Plan;

/* ---- construction -------------------------------------------------------------------------- */
static void *copy_buffer(PyObject *obj, char format, int ndim, const Py_ssize_t *shape, const char *name)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    int ok = view.ndim == ndim && view.format != NULL && view.format[0] == format && view.format[1] == 0;
    for (int d = 0; ok && d < ndim; d++)
        ok = shape[d] < 0 || view.shape[d] == shape[d];
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "cstream.Plan: %s must be a C-contiguous %d-D '%c' array of the "
                     "expected shape", name, ndim, format);
        PyBuffer_Release(&view);
        return NULL;
    }
    void *copy = malloc(view.len > 0 ? (size_t)view.len : 1);
    if (copy == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    memcpy(copy, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return copy;
}

static Py_ssize_t buffer_dim(PyObject *obj, int d)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_ND) < 0)
        return -1;
    Py_ssize_t n = d < view.ndim ? view.shape[d] : -1;
    PyBuffer_Release(&view);
    if (n < 0 && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "cstream.Plan: array has too few dimensions");
    return n;
}

static void plan_free(Plan *self)
{
    for (int k = 0; k < MAX_LAYERS; k++) {
        free(self->w_step[k]);
        free(self->b_step[k]);
    }
    void *owned[] = {self->inv_scale, self->w1, self->b1, self->w2, self->b2, self->low, self->high,
                     self->log_residual_scale, self->head_scale, self->edge_values, self->speed_factor,
                     self->xh, self->g, self->mlp, self->out32};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        free(owned[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Plan(layers, inv_scale, noise, interval, head, post, dt, attitude=None): layers a sequence of (w_step
 * (I+H, 4H), b_step (4H,)) float32; inv_scale (3 or 6,) float32; noise None or (floor m, log center, width) of
 * the measured-noise input; interval true when the interval-mean velocity is an input (after the noise); head
 * (w1 (H, M), b1 (M,), w2 (M, 6S), b2 (6S,)) float32; post (low (6S,), high (6S,), log_residual_scale (3S,),
 * head_scale (6S,), edges (E,), speed_factor (E+1, 3S)) float64; attitude None or the (2,) float32 inverse
 * scales of the attitude input (after the interval one: ax b, ay b scaled, then b). */
static int plan_init(Plan *self, PyObject *args, PyObject *kwds)
{
    PyObject *layers, *inv_scale, *noise, *head, *post, *attitude = Py_None;
    int interval;
    double dt;
    static char *names[] = {"layers", "inv_scale", "noise", "interval", "head", "post", "dt", "attitude", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOpOOd|O", names, &layers, &inv_scale, &noise, &interval, &head,
                                     &post, &dt, &attitude))
        return -1;
    self->interval = interval;
    self->noise = noise != Py_None;
    self->attitude = attitude != Py_None;
    if (self->attitude) {                                /* two floats: kept in the struct, nothing to free */
        const Py_ssize_t shape[1] = {2};
        float *scales = copy_buffer(attitude, 'f', 1, shape, "attitude");
        if (scales == NULL)
            return -1;
        memcpy(self->inv_attitude, scales, sizeof self->inv_attitude);
        free(scales);
    }
    if (self->noise && !PyArg_ParseTuple(noise, "ddd", &self->noise_floor, &self->noise_log_center,
                                         &self->noise_width)) {
        PyErr_SetString(PyExc_TypeError, "cstream.Plan: noise must be None or (floor, log_center, width)");
        return -1;
    }
    if (!PySequence_Check(layers) || !PySequence_Check(head) || PySequence_Size(head) != 4 ||
        !PySequence_Check(post) || PySequence_Size(post) != 6) {
        PyErr_SetString(PyExc_TypeError, "cstream.Plan(layers, inv_scale, noise, interval, head[4], post[6], dt"
                        "[, attitude])");
        return -1;
    }
    Py_ssize_t count = PySequence_Size(layers);
    if (count < 1 || count > MAX_LAYERS) {
        PyErr_Format(PyExc_ValueError, "cstream.Plan: 1..%d layers, got %zd", MAX_LAYERS, count);
        return -1;
    }
    PyObject *items[10] = {NULL};
    int status = -1;
    for (int i = 0; i < 4; i++)
        items[i] = PySequence_GetItem(head, i);
    for (int i = 0; i < 6; i++)
        items[4 + i] = PySequence_GetItem(post, i);
    for (int i = 0; i < 10; i++)
        if (items[i] == NULL)
            goto done;

    Py_ssize_t h = -1, m = buffer_dim(items[0], 1), o = buffer_dim(items[2], 1), e = buffer_dim(items[8], 0);
    Py_ssize_t scaled = buffer_dim(inv_scale, 0);
    if (m < 0 || o < 0 || e < 0 || scaled < 0)
        goto done;
    const Py_ssize_t f = scaled + self->noise + 3 * self->interval + 3 * self->attitude;   /* <= MAX_FEATURES */
    self->layers = (int)count;
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *pair = PySequence_GetItem(layers, k);
        if (pair == NULL)
            goto done;
        PyObject *w = PySequence_Check(pair) && PySequence_Size(pair) == 2 ? PySequence_GetItem(pair, 0) : NULL;
        PyObject *b = w != NULL ? PySequence_GetItem(pair, 1) : NULL;
        Py_DECREF(pair);
        if (b == NULL) {
            Py_XDECREF(w);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "cstream.Plan: each layer is (w_step, b_step)");
            goto done;
        }
        Py_ssize_t rows = buffer_dim(w, 0), cols = buffer_dim(w, 1);
        if (rows >= 0 && cols >= 0 && h < 0)
            h = cols / 4;
        Py_ssize_t inputs = rows - h;
        Py_ssize_t w_shape[2] = {rows, 4 * h}, b_shape[1] = {4 * h};
        if (rows < 0 || cols != 4 * h || h < 1 || inputs < 1 || (k == 0 && inputs != f) || (k > 0 && inputs != h)) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "cstream.Plan: layer %zd w_step has shape (%zd, %zd)", k, rows, cols);
        } else {
            self->layer_inputs[k] = (int)inputs;
            self->w_step[k] = copy_buffer(w, 'f', 2, w_shape, "w_step");
            self->b_step[k] = self->w_step[k] ? copy_buffer(b, 'f', 1, b_shape, "b_step") : NULL;
        }
        Py_DECREF(w);
        Py_DECREF(b);
        if (self->b_step[k] == NULL)
            goto done;
    }
    if (o % 6 != 0 || (scaled != 3 && scaled != 6) || (self->noise && scaled != 6) ||
        (self->interval && !self->noise) || (self->attitude && !self->interval)) {
        PyErr_SetString(PyExc_ValueError, "cstream.Plan: head output must be 6 * steps, scaled features 3 or 6 "
                        "(6 with the noise input; the interval input only after it, the attitude input only "
                        "after the interval one)");
        goto done;
    }
    self->hidden = (int)h;
    self->features = (int)f;
    self->scaled = (int)scaled;
    self->accel = scaled == 6;
    self->head_hidden = (int)m;
    self->steps = (int)(o / 6);
    self->edges = (int)e;
    self->dt = dt;
    Py_ssize_t s3 = o / 2;
    Py_ssize_t sf[1] = {scaled}, w1s[2] = {h, m}, b1s[1] = {m}, w2s[2] = {m, o}, b2s[1] = {o}, half[1] = {s3};
    Py_ssize_t es[1] = {e}, factor[2] = {e + 1, s3};
    if (!(self->inv_scale = copy_buffer(inv_scale, 'f', 1, sf, "inv_scale")) ||
        !(self->w1 = copy_buffer(items[0], 'f', 2, w1s, "w1")) ||
        !(self->b1 = copy_buffer(items[1], 'f', 1, b1s, "b1")) ||
        !(self->w2 = copy_buffer(items[2], 'f', 2, w2s, "w2")) ||
        !(self->b2 = copy_buffer(items[3], 'f', 1, b2s, "b2")) ||
        !(self->low = copy_buffer(items[4], 'd', 1, b2s, "low")) ||
        !(self->high = copy_buffer(items[5], 'd', 1, b2s, "high")) ||
        !(self->log_residual_scale = copy_buffer(items[6], 'd', 1, half, "log_residual_scale")) ||
        !(self->head_scale = copy_buffer(items[7], 'd', 1, b2s, "head_scale")) ||
        !(self->edge_values = copy_buffer(items[8], 'd', 1, es, "edges")) ||
        !(self->speed_factor = copy_buffer(items[9], 'd', 2, factor, "speed_factor")))
        goto done;
    self->xh = malloc(sizeof(float) * BLOCK * (size_t)(h + (f > h ? f : h)));   /* BLOCK rows each */
    self->g = malloc(sizeof(float) * BLOCK * (size_t)(4 * h));
    self->mlp = malloc(sizeof(float) * BLOCK * (size_t)m);
    self->out_cols = (int)((o + 15) / 16 * 16);        /* whole 16-column blocks of affine_block, no scalar tail */
    float *padded = calloc((size_t)m * (size_t)self->out_cols, sizeof(float));
    if (padded != NULL)
        for (Py_ssize_t r = 0; r < m; r++)
            memcpy(padded + r * self->out_cols, self->w2 + r * o, sizeof(float) * (size_t)o);
    free(self->w2);
    self->w2 = padded;
    self->out32 = malloc(sizeof(float) * BLOCK * (size_t)self->out_cols);
    if (!self->xh || !self->g || !self->mlp || !self->out32 || !self->w2) {
        PyErr_NoMemory();
        goto done;
    }
    status = 0;
done:
    for (int i = 0; i < 10; i++)
        Py_XDECREF(items[i]);
    return status;
}

/* ---- per-call helpers ------------------------------------------------------------------------ */
/* 8-lane float32 vectors (GCC/Clang vector extensions): AVX in the AVX2 clone, two SSE halves in the
 * baseline one. Lane-wise IEEE arithmetic (no contraction: -ffp-contract=off), so a lane computes exactly
 * what the scalar expression would. */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define INLINE static inline __attribute__((always_inline))

INLINE v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store8(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

INLINE v8f splat8(float a)
{
    return (v8f){a, a, a, a, a, a, a, a};
}

INLINE v8f select8(v8i mask, v8f yes, v8f no)     /* mask lanes -1: yes, 0: no */
{
    return (v8f)((mask & (v8i)yes) | (~mask & (v8i)no));
}

/* g = b + xh @ w (xh (n_in,), w (n_in, cols); b NULL: zeros). Each g[j] is summed b[j] + xh[0] w[0][j] +
 * xh[1] w[1][j] + ... in that order (the row-by-row order of the reference loop), but 64 (then 8) columns
 * are accumulated in vector registers over all rows before they are stored, instead of a load and a store
 * of g per row: bit-identical, fewer memory operations (bench/fused_call.py; kernels/README.md). */
INLINE void affine(const float *xh, int n_in, const float *w, const float *b, int cols, float *g)
{
    int j0 = 0;
    for (; j0 + 64 <= cols; j0 += 64) {
        v8f acc[8];
        for (int i = 0; i < 8; i++)
            acc[i] = b != NULL ? load8(b + j0 + 8 * i) : splat8(0.0f);
        for (int k = 0; k < n_in; k++) {
            const float a = xh[k];                      /* scalar * vector: a broadcast, not 8 inserts */
            const float *row = w + (size_t)k * cols + j0;
            for (int i = 0; i < 8; i++)
                acc[i] += a * load8(row + 8 * i);
        }
        for (int i = 0; i < 8; i++)
            store8(g + j0 + 8 * i, acc[i]);
    }
    for (; j0 + 8 <= cols; j0 += 8) {
        v8f acc = b != NULL ? load8(b + j0) : splat8(0.0f);
        for (int k = 0; k < n_in; k++)
            acc += xh[k] * load8(w + (size_t)k * cols + j0);
        store8(g + j0, acc);
    }
    for (; j0 < cols; j0++) {
        float acc = b != NULL ? b[j0] : 0.0f;
        for (int k = 0; k < n_in; k++)
            acc += xh[k] * w[(size_t)k * cols + j0];
        g[j0] = acc;
    }
}

/* affine() for BLOCK rows at once: g[t] = b + xh[t] @ w, xh rows n_in apart, g rows cols apart. Every output
 * is the same sum in the same order as affine()'s (bit-identical), but 16 columns of the BLOCK rows are
 * accumulated together, so each weight vector is loaded once per block of tracks instead of once per track:
 * a 128-wide GRU's weights (~280 KB) stream from L2 a quarter as often (bench/fused_call.py). */
INLINE void affine_block(const float *xh, int n_in, const float *w, const float *b, int cols, float *g)
{
    int j0 = 0;
    for (; j0 + 16 <= cols; j0 += 16) {
        v8f acc[BLOCK][2];
        for (int t = 0; t < BLOCK; t++) {
            acc[t][0] = b != NULL ? load8(b + j0) : splat8(0.0f);
            acc[t][1] = b != NULL ? load8(b + j0 + 8) : splat8(0.0f);
        }
        for (int k = 0; k < n_in; k++) {
            const float *row = w + (size_t)k * cols + j0;
            const v8f w0 = load8(row), w1 = load8(row + 8);
            for (int t = 0; t < BLOCK; t++) {
                const float a = xh[t * n_in + k];
                acc[t][0] += a * w0;
                acc[t][1] += a * w1;
            }
        }
        for (int t = 0; t < BLOCK; t++) {
            store8(g + (size_t)t * cols + j0, acc[t][0]);
            store8(g + (size_t)t * cols + j0 + 8, acc[t][1]);
        }
    }
    for (; j0 + 8 <= cols; j0 += 8)
        for (int t = 0; t < BLOCK; t++) {
            v8f acc = b != NULL ? load8(b + j0) : splat8(0.0f);
            for (int k = 0; k < n_in; k++)
                acc += xh[t * n_in + k] * load8(w + (size_t)k * cols + j0);
            store8(g + (size_t)t * cols + j0, acc);
        }
    for (; j0 < cols; j0++)
        for (int t = 0; t < BLOCK; t++) {
            float acc = b != NULL ? b[j0] : 0.0f;
            for (int k = 0; k < n_in; k++)
                acc += xh[t * n_in + k] * w[(size_t)k * cols + j0];
            g[(size_t)t * cols + j0] = acc;
        }
}

/* Branch-free float32 exp, sigmoid and tanh on 8 lanes (libm's expf/tanhf are scalar calls: the ~384 of a
 * 128-wide GRU step dominated its cost). exp: Cody-Waite range reduction by ln 2 and the Cephes expf
 * polynomial (Cephes' stated accuracy ~1 ulp on [-87, 88]); tanh: the Cephes tanhf odd polynomial for |x| < 0.625, else
 * 1 - 2 / (exp(2|x|) + 1) with the sign of x. NaN propagates; beyond the range they saturate (exp -> ~1e-38
 * or ~1.65e38, sigmoid -> 0 or 1, tanh -> -1 or 1). Held to torch's GRU cell to float32 rounding by
 * test/unit/kernels/test_kernels_fused.py. */
INLINE v8f exp8(v8f x)
{
    const v8i nan = x != x;
    v8f c = select8(nan, splat8(0.0f), x);
    c = select8(c < -87.0f, splat8(-87.0f), c);
    c = select8(c > 88.0f, splat8(88.0f), c);
    const v8f k = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;     /* round to nearest */
    v8f r = c - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    v8f p = splat8(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const v8i bits = (__builtin_convertvector(k, v8i) + 127) << 23;
    return select8(nan, x, p * (v8f)bits);
}

INLINE v8f sigmoid8(v8f x)
{
    return 1.0f / (1.0f + exp8(-x));
}

INLINE v8f tanh8(v8f x)
{
    const v8i sign = (v8i)x & (int32_t)0x80000000;
    const v8f a = (v8f)((v8i)x & 0x7fffffff), z = x * x;
    v8f small = splat8(-5.70498872745e-3f);
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    const v8f large = (v8f)((v8i)(1.0f - 2.0f / (exp8(a + a) + 1.0f)) | sign);
    return select8(a < 0.625f, small, large);            /* NaN: a < 0.625 is false, large is NaN */
}

/* f applied to n floats in place, 8 at a time (a last partial block through a zero-padded copy). */
#define APPLY8(f, values, n)                                                                  \
    do {                                                                                      \
        int j_ = 0;                                                                           \
        for (; j_ + 8 <= (n); j_ += 8)                                                        \
            store8((values) + j_, f(load8((values) + j_)));                                   \
        if (j_ < (n)) {                                                                       \
            float pad_[8] = {0.0f};                                                           \
            memcpy(pad_, (values) + j_, sizeof(float) * (size_t)((n) - j_));                  \
            store8(pad_, f(load8(pad_)));                                                     \
            memcpy((values) + j_, pad_, sizeof(float) * (size_t)((n) - j_));                  \
        }                                                                                     \
    } while (0)

/* The gates of one layer's step from its products g = [x | h] @ w_step + b_step (4H,): h (H,) in place. */
INLINE void gru_gates_row(float *g, float *h, int hid)
{
    APPLY8(sigmoid8, g, 2 * hid);                        /* r | z */
    float *n = g + 2 * hid;                              /* n = tanh(x W_in + b_in + r (h W_hn + b_hn)) */
    for (int j = 0; j < hid; j++)
        n[j] = n[j] + g[j] * g[3 * hid + j];
    APPLY8(tanh8, n, hid);
    for (int j = 0; j < hid; j++)
        h[j] = (h[j] - n[j]) * g[hid + j] + n[j];
}

/* One layer: h (H,) -> new h in place, from input x (I,) (the arithmetic of cpu.NumpyCell). */
VECTOR_CLONES static void gru_layer(Plan *self, int k, const float *x, float *h)
{
    const int hid = self->hidden, inputs = self->layer_inputs[k];
    float *xh = self->xh, *g = self->g;
    memcpy(xh, x, sizeof(float) * (size_t)inputs);
    memcpy(xh + inputs, h, sizeof(float) * (size_t)hid);
    affine(xh, inputs + hid, self->w_step[k], self->b_step[k], 4 * hid, g);
    gru_gates_row(g, h, hid);
}

/* gru_layer for BLOCK tracks at once (inputs x[t], states h[t]): the same results. */
VECTOR_CLONES static void gru_layer_block(Plan *self, int k, const float *const *x, float *const *h)
{
    const int hid = self->hidden, inputs = self->layer_inputs[k], width = inputs + hid;
    float *xh = self->xh, *g = self->g;
    for (int t = 0; t < BLOCK; t++) {
        memcpy(xh + t * width, x[t], sizeof(float) * (size_t)inputs);
        memcpy(xh + t * width + inputs, h[t], sizeof(float) * (size_t)hid);
    }
    affine_block(xh, width, self->w_step[k], self->b_step[k], 4 * hid, g);
    for (int t = 0; t < BLOCK; t++)
        gru_gates_row(g + (size_t)t * 4 * hid, h[t], hid);
}

/* tanh(mlp + b1) in place: the head's hidden layer after top @ w1 (numpy's order: product, + b1, tanh) */
INLINE void head_hidden_row(Plan *self, float *mlp)
{
    const int m = self->head_hidden;
    for (int j = 0; j < m; j++)
        mlp[j] = mlp[j] + self->b1[j];
    APPLY8(tanh8, mlp, m);
}

/* The head's MLP on the top hidden state: out32 = tanh(top @ w1 + b1) @ w2 (b2 added by the caller). */
VECTOR_CLONES static void head_dense(Plan *self, const float *top)
{
    const int hid = self->hidden, m = self->head_hidden;
    float *mlp = self->mlp, *raw = self->out32;
    affine(top, hid, self->w1, NULL, m, mlp);
    head_hidden_row(self, mlp);
    affine(mlp, m, self->w2, NULL, self->out_cols, raw);
}

/* head_dense for BLOCK top rows (tops (BLOCK, H), contiguous): out32 row t (out_cols apart) for track t, the
 * same results. */
VECTOR_CLONES static void head_dense_block(Plan *self, const float *tops)
{
    const int hid = self->hidden, m = self->head_hidden;
    float *mlp = self->mlp, *raw = self->out32;
    affine_block(tops, hid, self->w1, NULL, m, mlp);
    for (int t = 0; t < BLOCK; t++)
        head_hidden_row(self, mlp + (size_t)t * m);
    affine_block(mlp, m, self->w2, NULL, self->out_cols, raw);
}

/* ---- one track ------------------------------------------------------------------------------- */
/* One GRU step of track `slot` of state (L, N, H): features of the grid sample
 * v = (vx, vy, vz, noise, ux, uy, uz, ax, ay, available) given the previous velocity lv (the arithmetic of
 * ModelSpec.features, float32), then every layer in place. Returns the top layer's row. */
static void features_row(Plan *self, const double *v, const double *lv, int fresh, float *x)
{
    for (int i = 0; i < 3; i++) {
        const float now = (float)v[i];
        x[i] = now * self->inv_scale[i];
        if (self->accel)
            x[3 + i] = (fresh ? 0.0f : now - (float)lv[i]) * self->inv_scale[3 + i];
    }
    if (self->noise) {
        const double level = v[3] > self->noise_floor ? v[3] : self->noise_floor;   /* np.maximum (v[3] >= 0) */
        x[6] = (float)((log(level) - self->noise_log_center) / self->noise_width);
    }
    if (self->interval)
        for (int i = 0; i < 3; i++)
            x[7 + i] = (float)v[4 + i] * self->inv_scale[i];
    if (self->attitude) {                                /* numpy's order: float32(a), * float32(b), * scale */
        const float available = (float)v[9];
        for (int i = 0; i < 2; i++) {
            float implied = (float)v[7 + i];
            implied = implied * available;
            x[10 + i] = implied * self->inv_attitude[i];
        }
        x[12] = available;
    }
}

static float *step_row(Plan *self, float *state, Py_ssize_t n_rows, Py_ssize_t slot, const double *v,
                       const double *lv, int fresh)
{
    float x[MAX_FEATURES];
    features_row(self, v, lv, fresh, x);
    const Py_ssize_t hid = self->hidden, layer_stride = n_rows * hid;
    const float *input = x;
    float *h = NULL;
    for (int k = 0; k < self->layers; k++) {
        h = state + k * layer_stride + slot * hid;
        gru_layer(self, k, input, h);
        input = h;
    }
    return h;
}

/* step_row for BLOCK distinct slots at once (sample v[t], previous velocity lv[t], fresh[t] per track). */
static void step_rows_block(Plan *self, float *state, Py_ssize_t n_rows, const Py_ssize_t *slot,
                            const double *const *v, const double *const *lv, const int *fresh)
{
    float x[BLOCK][MAX_FEATURES];
    const float *input[BLOCK];
    float *h[BLOCK];
    for (int t = 0; t < BLOCK; t++) {
        features_row(self, v[t], lv[t], fresh[t], x[t]);
        input[t] = x[t];
    }
    const Py_ssize_t hid = self->hidden, layer_stride = n_rows * hid;
    for (int k = 0; k < self->layers; k++) {
        for (int t = 0; t < BLOCK; t++)
            h[t] = state + k * layer_stride + slot[t] * hid;
        gru_layer_block(self, k, input, h);
        for (int t = 0; t < BLOCK; t++)
            input[t] = h[t];
    }
}

/* Head + integration of one track from its top row, last velocity v and last grid position p into
 * out = [positions | velocities | std] (3, S, 3). Returns 0 when an output is non-finite. */
static int predict_post(Plan *self, const float *raw, const double *v, const double *p, double *out);

static int predict_row(Plan *self, const float *top, const double *v, const double *p, double *out)
{
    head_dense(self, top);
    return predict_post(self, self->out32, v, p, out);
}

/* predict_row's part after the MLP: raw = tanh(top @ w1 + b1) @ w2 (6S,) of the track. */
static int predict_post(Plan *self, const float *raw, const double *v, const double *p, double *out)
{
    const int s = self->steps, s3 = 3 * s, o = 6 * s;
    const double speed = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    int bin = 0;                                          /* bisect_left: edges strictly below the speed */
    while (bin < self->edges && self->edge_values[bin] < speed)
        bin++;
    const double *factor = self->speed_factor + (size_t)bin * s3;
    double *positions = out, *velocities = out + s3, *std = out + 2 * s3;
    int finite = 1;
    for (int j = 0; j < o; j++) {
        double value = (double)(raw[j] + self->b2[j]);
        value = value < self->low[j] ? self->low[j] : value;    /* NaN stays NaN, as np.maximum/minimum */
        value = value > self->high[j] ? self->high[j] : value;
        if (j < s3) {
            value *= self->head_scale[j];
            positions[j] = value;                                /* the residual, for now */
        } else {
            value = exp(value + self->log_residual_scale[j - s3]) * self->head_scale[j] * factor[j - s3];
            std[j - s3] = value;
        }
        finite &= isfinite(value) != 0;
    }
    if (!finite)
        return 0;
    const double dt = self->dt;
    double previous[3] = {v[0] * 0.0 + p[0], v[1] * 0.0 + p[1], v[2] * 0.0 + p[2]};
    for (int step = 1; step <= s; step++) {
        const double ahead = (double)step * dt;
        for (int a = 0; a < 3; a++) {
            const int i = 3 * (step - 1) + a;
            const double position = (v[a] * ahead + p[a]) + positions[i];
            positions[i] = position;
            velocities[i] = (position - previous[a]) / dt;
            previous[a] = position;
            finite &= isfinite(position) != 0;
        }
    }
    return finite;
}

/* ---- the guard (model/guard.py) and its IMM (core/imm.py) ------------------------------------ */
/* GuardState(x, p, mu, k, f, q, transition, forecast, stats, evidence, model, classical, target, weight,
 *            pair_std, pair_weight, scale, init_var, rate, min_evidence, floor, dt, calibration)
 * The guard's state arrays, held (buffer views) from construction until the object is freed, so a tick
 * acquires none of them: the owner (model/guard.py Guard) builds a new one whenever it rebinds an array
 * (grow). Arrays: x (N, M, 9), p (N, M, 9, 9), mu (N, M), k (N,) int64, f, q (M, 9, 9), transition (M, M),
 * forecast (M, H, 3, 9), stats (N, 3, H), evidence (N, H) int64, model, classical (N, H, H, 3), target
 * (N, H, H) int64, weight (N,), pair_std (N, H, H, 3), pair_weight (N, H, H), scale (N, 2, H, 3); init_var =
 * (velocity variance, acceleration variance); calibration = (the per-lead calibration's rate (0: off), then
 * per level of model/guard.py CALIBRATION_LEVELS its multiple and the two factors of the scale's update (outside,
 * inside: exp(rate q), exp(-rate (1 - q))), then the leads that take the near floor (leads j < it, as a double),
 * the floors near and far (CALIBRATION_FLOORS) and the highest scale).
 *
 * One guard step of track t at grid index g (guard_track, the arithmetic of `Guard.apply`): initialise
 * (k < 0) or step the IMM with z = the grid position, r = noise^2 + floor^2; score the stored pairs that
 * targeted g; forecast; for a network row, record and blend out = [positions | velocities | std] (3, H, 3)
 * in place, the velocities following blended positions ((p_j - p_{j-1}) / dt from p_0 = z). A filter that
 * would skip grid steps (g - k > 1) is not stepped here: callers leave those rows to the numpy filter
 * (one step of d dt) first (guard_skips). The same arithmetic as the numpy reference, summed in its own
 * order (tests: equal to ~1e-12).
 *
 *   GuardState.apply(indices, grid_index, last, noise, out, network): n tracks (indices, grid_index (n,)
 *       int64, last (n, 3), noise (n,), out (n, 3, H, 3), network (n,) bool or None: every row). When a
 *       row's filter would skip grid steps nothing changes and the tuple of those rows is returned (the
 *       caller steps them, numpy, then calls again); else None.
 *   Plan.advance(..., guard): the same step for each ready row, in the same call as the network's. */
#define GUARD_MAX_MODES 4
#define GUARD_PI 3.141592653589793      /* numpy's pi */
#define GUARD_MAX_H 64
#define GUARD_STATE_ARRAYS 17

typedef struct {
    const char *name;
    char format;
    int ndim;
} ArraySpec;

static const ArraySpec guard_arrays[] = {
    {"x", 'd', 3}, {"p", 'd', 4}, {"mu", 'd', 2}, {"k", 'q', 1}, {"f", 'd', 3}, {"q", 'd', 3},
    {"transition", 'd', 2}, {"forecast", 'd', 4}, {"stats", 'd', 3}, {"evidence", 'q', 2}, {"model", 'd', 4},
    {"classical", 'd', 4}, {"target", 'q', 3}, {"weight", 'd', 1}, {"pair_std", 'd', 4}, {"pair_weight", 'd', 3},
    {"scale", 'd', 4},
    {"indices", 'q', 1}, {"grid_index", 'q', 1},
    {"last", 'd', 2}, {"noise", 'd', 1}, {"out", 'd', 4}, {"network", '?', 1},
};

typedef struct {
    PyObject_HEAD
    Py_buffer v[GUARD_STATE_ARRAYS];
    int held;
    Py_ssize_t cap, m, h;
    double init_var[2], rate, floor, dt, calibration, near_leads, floor_near, floor_far, ceiling;
    double level_multiple[2], level_up[2], level_down[2];   /* from model/guard.py CALIBRATION_LEVELS, passed in */
    long min_evidence;
} GuardState;

/* A writable C-contiguous view of obj with spec's dimensions and format (int64 'q': also 'l' on LP64), or
 * -1 with a ValueError naming `who` and the array (nothing held). */
static int get_array(PyObject *obj, Py_buffer *view, const ArraySpec *spec, const char *who)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        return -1;
    const char *f = view->format;
    int ok = view->ndim == spec->ndim && f != NULL && f[1] == 0;
    if (ok && spec->format == 'q')
        ok = (f[0] == 'q' || f[0] == 'l') && view->itemsize == 8;
    else if (ok)
        ok = f[0] == spec->format;
    if (!ok) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s: %s must be a writable C-contiguous %d-D array of format '%c'",
                     who, spec->name, spec->ndim, spec->format);
        return -1;
    }
    return 0;
}

/* inverse, log-determinant of a symmetric positive-definite 3x3 matrix (row-major); 0 when singular */
static int inverse3(const double *s, double *inv, double *logdet)
{
    const double c00 = s[4] * s[8] - s[5] * s[7], c01 = s[5] * s[6] - s[3] * s[8], c02 = s[3] * s[7] - s[4] * s[6];
    const double det = s[0] * c00 + s[1] * c01 + s[2] * c02;
    if (!(det > 0.0) || !isfinite(det))
        return 0;
    inv[0] = c00 / det;
    inv[1] = (s[2] * s[7] - s[1] * s[8]) / det;
    inv[2] = (s[1] * s[5] - s[2] * s[4]) / det;
    inv[3] = c01 / det;
    inv[4] = (s[0] * s[8] - s[2] * s[6]) / det;
    inv[5] = (s[2] * s[3] - s[0] * s[5]) / det;
    inv[6] = c02 / det;
    inv[7] = (s[1] * s[6] - s[0] * s[7]) / det;
    inv[8] = (s[0] * s[4] - s[1] * s[3]) / det;
    *logdet = log(det);
    return 1;
}

/* a track's filter at its first measurement z: state (z, 0, 0), P = diag(r, init_var), uniform modes */
static void imm_init(Py_ssize_t m, double *xt, double *pt, double *mut, const double *z, double r, const double *init_var)
{
    for (Py_ssize_t j = 0; j < m; j++) {
        double *xj = xt + j * 9, *pj = pt + j * 81;
        memset(xj, 0, sizeof(double) * 9);
        memset(pj, 0, sizeof(double) * 81);
        for (int a = 0; a < 3; a++) {
            xj[a] = z[a];
            pj[a * 10] = r;
            pj[(a + 3) * 10] = init_var[0];
            pj[(a + 6) * 10] = init_var[1];
        }
        mut[j] = 1.0 / (double)m;
    }
}

/* one IMM step of one track (gap 1): x (M, 9), p (M, 9, 9), mu (M,) in place; 0 when the filter is left
 * degenerate or non-finite (the caller restarts it at z, as core/imm.py does). The loops run along
 * contiguous rows (9 or 27 values) so they vectorise; F = kron(A, I3) (core/imm.py joint) is applied
 * block-wise, its structural zeros skipped (a third of the dense 9x9 products): F P F^T as (F (F P)^T)^T,
 * the transpose of the same sums. */
VECTOR_CLONES static int imm_step(int m, double *x, double *p, double *mu, const double *f, const double *q, const double *tr,
                     const double *z, double r)
{
    double mx[GUARD_MAX_MODES][9], mp[GUARD_MAX_MODES][81], predicted[GUARD_MAX_MODES], loglik[GUARD_MAX_MODES];
    if (m > 1) {
        for (int j = 0; j < m; j++) {
            predicted[j] = 0.0;
            for (int i = 0; i < m; i++)
                predicted[j] += mu[i] * tr[i * m + j];
        }
        for (int j = 0; j < m; j++) {
            double w[GUARD_MAX_MODES];
            for (int i = 0; i < m; i++)
                w[i] = tr[i * m + j] * mu[i] / predicted[j];
            for (int a = 0; a < 9; a++) {
                mx[j][a] = 0.0;
                for (int i = 0; i < m; i++)
                    mx[j][a] += w[i] * x[i * 9 + a];
            }
            double *mixed = mp[j];
            memset(mixed, 0, sizeof(double) * 81);
            for (int i = 0; i < m; i++) {                /* sum_i w_i (P_i + d_i d_i^T), d_i = x_i - mixed x */
                const double *pi = p + i * 81;
                double d[9], wd[9];
                for (int a = 0; a < 9; a++) {
                    d[a] = x[i * 9 + a] - mx[j][a];
                    wd[a] = w[i] * d[a];
                }
                for (int a = 0; a < 9; a++)
                    for (int b = 0; b < 9; b++)
                        mixed[a * 9 + b] += w[i] * pi[a * 9 + b] + wd[a] * d[b];
            }
        }
    } else {
        predicted[0] = mu[0];
        memcpy(mx[0], x, sizeof(double) * 9);
        memcpy(mp[0], p, sizeof(double) * 81);
    }
    for (int j = 0; j < m; j++) {
        const double *fj = f + j * 81, *qj = q + j * 81;
        double A[3][3], xs[9], u[81], ut[81], v[81], ps[81], s[9], inv[9], gain[27], innovation[3], logdet = 0.0;
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 3; c++)
                A[i][c] = fj[(3 * i) * 9 + 3 * c];
        for (int i = 0; i < 3; i++)
            for (int ax = 0; ax < 3; ax++)
                xs[3 * i + ax] = A[i][0] * mx[j][ax] + A[i][1] * mx[j][3 + ax] + A[i][2] * mx[j][6 + ax];
        /* U = F P: row block i (rows 3i..3i+2, 27 values) = sum_k A[i][k] row block k */
        for (int i = 0; i < 3; i++)
            for (int e = 0; e < 27; e++)
                u[27 * i + e] = A[i][0] * mp[j][e] + A[i][1] * mp[j][27 + e] + A[i][2] * mp[j][54 + e];
        for (int a = 0; a < 9; a++)
            for (int b = 0; b < 9; b++)
                ut[a * 9 + b] = u[b * 9 + a];
        for (int i = 0; i < 3; i++)                      /* V = F U^T = (U F^T)^T = (F P F^T)^T */
            for (int e = 0; e < 27; e++)
                v[27 * i + e] = A[i][0] * ut[e] + A[i][1] * ut[27 + e] + A[i][2] * ut[54 + e];
        for (int a = 0; a < 9; a++)
            for (int b = 0; b < 9; b++)
                ps[a * 9 + b] = v[b * 9 + a] + qj[a * 9 + b];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                s[a * 3 + b] = ps[a * 9 + b] + (a == b ? r : 0.0);
        for (int a = 0; a < 3; a++)
            innovation[a] = z[a] - xs[a];
        if (!inverse3(s, inv, &logdet))
            return 0;                                    /* degenerate: restarted by the caller */
        for (int a = 0; a < 9; a++)                      /* gain = P H^T S^-1: (9, 3) */
            for (int b = 0; b < 3; b++)
                gain[a * 3 + b] = ps[a] * inv[b] + ps[9 + a] * inv[3 + b] + ps[18 + a] * inv[6 + b];
        for (int a = 0; a < 9; a++)
            x[j * 9 + a] = xs[a] + (gain[a * 3] * innovation[0] + gain[a * 3 + 1] * innovation[1]
                                    + gain[a * 3 + 2] * innovation[2]);
        for (int a = 0; a < 9; a++)                      /* P - gain H P, then symmetrised */
            for (int b = 0; b < 9; b++)
                u[a * 9 + b] = ps[a * 9 + b] - (gain[a * 3] * ps[b] + gain[a * 3 + 1] * ps[9 + b]
                                                + gain[a * 3 + 2] * ps[18 + b]);
        double *pj = p + j * 81;
        for (int a = 0; a < 9; a++)
            for (int b = 0; b < 9; b++)
                pj[a * 9 + b] = 0.5 * (u[a * 9 + b] + u[b * 9 + a]);
        if (m > 1) {
            double maha = 0.0;
            for (int a = 0; a < 3; a++) {
                double sum = 0.0;
                for (int b = 0; b < 3; b++)
                    sum += inv[a * 3 + b] * innovation[b];
                maha += innovation[a] * sum;
            }
            loglik[j] = -0.5 * (maha + logdet + 3 * log(2 * GUARD_PI)) + log(fmax(predicted[j], 1e-300));
        }
    }
    if (m > 1) {
        double top = loglik[0], total = 0.0;
        for (int j = 1; j < m; j++)
            top = loglik[j] > top ? loglik[j] : top;
        for (int j = 0; j < m; j++) {
            mu[j] = exp(loglik[j] - top);
            total += mu[j];
        }
        for (int j = 0; j < m; j++)
            mu[j] /= total;
    }
    int bad = 0;                                         /* any NaN or infinity (an integer reduction) */
    for (int e = 0; e < m * 81; e++)
        bad |= !(fabs(p[e]) <= DBL_MAX);
    for (int e = 0; e < m * 9; e++)
        bad |= !(fabs(x[e]) <= DBL_MAX);
    for (int j = 0; j < m; j++)
        bad |= !(fabs(mu[j]) <= DBL_MAX);
    return !bad;
}

/* 1 when track t's filter would skip grid steps at grid index g (the caller steps it with numpy first) */
static int guard_skips(const GuardState *gs, Py_ssize_t t, int64_t g)
{
    const int64_t k = ((const int64_t *)gs->v[3].buf)[t];
    return k >= 0 && g - k > 1;
}

/* One guard step of track t (see the section comment); out_row (3, H, 3) is blended when `network`. */
static void guard_track(GuardState *gs, Py_ssize_t t, int64_t g, const double *z, double noise, double *out_row,
                        int network)
{
    const Py_ssize_t m = gs->m, h = gs->h;
    double *x = gs->v[0].buf, *p = gs->v[1].buf, *mu = gs->v[2].buf, *stats = gs->v[8].buf, *model = gs->v[10].buf;
    double *classical = gs->v[11].buf, *weight = gs->v[13].buf, *pair_std = gs->v[14].buf;
    double *pair_weight = gs->v[15].buf, *scale = gs->v[16].buf;
    const double *f = gs->v[4].buf, *q = gs->v[5].buf, *tr = gs->v[6].buf, *fc = gs->v[7].buf;
    int64_t *k = gs->v[3].buf, *evidence = gs->v[9].buf, *target = gs->v[12].buf;
    const double rate = gs->rate, dt = gs->dt, r_i = noise * noise + gs->floor * gs->floor;
    double *positions = out_row, *velocities = positions + 3 * h, *std = velocities + 3 * h;
    double *xt = x + t * m * 9, *pt = p + t * m * 81, *mut = mu + t * m;
    /* the classical filter */
    if (k[t] < 0) {
        imm_init(m, xt, pt, mut, z, r_i, gs->init_var);
        k[t] = g;
    } else if (g - k[t] == 1) {
        if (!imm_step((int)m, xt, pt, mut, f, q, tr, z, r_i))
            imm_init(m, xt, pt, mut, z, r_i, gs->init_var);
        k[t] = g;
    }
    /* score the pairs that targeted g */
    const Py_ssize_t slot = (Py_ssize_t)(((g % h) + h) % h);
    for (Py_ssize_t j = 0; j < h; j++) {
        int64_t *stored = target + (t * h + slot) * h + j;
        if (*stored != g)
            continue;
        const double *pm = model + ((t * h + slot) * h + j) * 3, *pc = classical + ((t * h + slot) * h + j) * 3;
        double em[3], ec[3], fresh[3];
        for (int a = 0; a < 3; a++) {
            em[a] = z[a] - pm[a];
            ec[a] = z[a] - pc[a];
        }
        fresh[0] = em[0] * em[0] + em[1] * em[1] + em[2] * em[2];
        fresh[1] = ec[0] * ec[0] + ec[1] * ec[1] + ec[2] * ec[2];
        fresh[2] = em[0] * ec[0] + em[1] * ec[1] + em[2] * ec[2];
        for (int s = 0; s < 3; s++) {
            double *value = stats + (t * 3 + s) * h + j;
            *value += rate * (fresh[s] - *value);
        }
        evidence[t * h + j] += 1;
        if (gs->calibration > 0.0) {                     /* the per-lead quantile trackers, on the published blend */
            const double *sd = pair_std + ((t * h + slot) * h + j) * 3;
            const double pw = pair_weight[(t * h + slot) * h + j];
            double error[3];
            for (int a = 0; a < 3; a++)
                error[a] = fabs(z[a] - (pw > 0 ? pm[a] + pw * (pc[a] - pm[a]) : pm[a]));
            const double low = (double)j < gs->near_leads ? gs->floor_near : gs->floor_far;
            for (int level = 0; level < 2; level++)     /* per axis: a tracker for each of x, y, z */
                for (int a = 0; a < 3; a++) {
                    double *s = scale + ((t * 2 + level) * h + j) * 3 + a;
                    double value = *s * (error[a] > sd[a] * (gs->level_multiple[level] * *s) ? gs->level_up[level]
                                                                                             : gs->level_down[level]);
                    value = value < low ? low : value;
                    *s = value > gs->ceiling ? gs->ceiling : value;
                }
        }
        *stored = -1;
    }
    weight[t] = 0.0;
    if (!network)
        return;
    /* forecast, record, blend */
    double total = 0.0;
    for (Py_ssize_t j = 0; j < h; j++) {
        double combined[3] = {0.0, 0.0, 0.0};
        for (Py_ssize_t mode = 0; mode < m; mode++) {   /* position rows of F^j = kron(row 0 of A^j, I3) */
            const double *op = fc + (mode * h + j) * 27, *xm = xt + mode * 9;
            for (int a = 0; a < 3; a++)
                combined[a] += mut[mode] * (op[0] * xm[a] + op[3] * xm[3 + a] + op[6] * xm[6 + a]);
        }
        double *row = positions + j * 3;
        const int64_t aim = g + 1 + j;
        const Py_ssize_t into = (Py_ssize_t)(aim % h);
        const Py_ssize_t pair = (t * h + into) * h + j;
        memcpy(model + pair * 3, row, sizeof(double) * 3);
        memcpy(classical + pair * 3, combined, sizeof(double) * 3);
        target[pair] = aim;
        const double mm = stats[(t * 3) * h + j], cc = stats[(t * 3 + 1) * h + j], mc = stats[(t * 3 + 2) * h + j];
        const double spread = mm + cc - 2.0 * mc;
        double w = spread > 0 ? (mm - mc) / spread : 0.0;
        w = w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w);
        if (evidence[t * h + j] < gs->min_evidence || !(w >= 0.0) || !(isfinite(combined[0]) && isfinite(combined[1])
                                                                       && isfinite(combined[2])))
            w = 0.0;                                     /* not enough evidence, NaN scores, a broken filter */
        double factor = 1.0;
        if (w > 0.0 && mm > 0.0) {
            const double blended = (1.0 - w) * (1.0 - w) * mm + w * w * cc + 2.0 * w * (1.0 - w) * mc;
            factor = sqrt(fmax(blended, 0.0) / mm);
            factor = isfinite(factor) ? factor : 1.0;
        }
        pair_weight[pair] = w;
        for (int a = 0; a < 3; a++)
            pair_std[pair * 3 + a] = std[j * 3 + a] * factor;
        if (w > 0.0)
            for (int a = 0; a < 3; a++)
                row[a] = row[a] + w * (combined[a] - row[a]);
        if (gs->calibration > 0.0) {                     /* per axis, the wider of the two levels' scales */
            const double *s0 = scale + ((t * 2) * h + j) * 3, *s1 = scale + ((t * 2 + 1) * h + j) * 3;
            for (int a = 0; a < 3; a++)
                std[j * 3 + a] *= factor * fmax(s0[a], s1[a]);
        } else if (w > 0.0 && mm > 0.0)
            for (int a = 0; a < 3; a++)
                std[j * 3 + a] *= factor;
        total += w;
    }
    weight[t] = total / (double)h;
    if (total > 0.0)                                     /* velocities of the blended positions */
        for (Py_ssize_t j = 0; j < h; j++)
            for (int a = 0; a < 3; a++)
                velocities[j * 3 + a] = (positions[j * 3 + a] - (j ? positions[(j - 1) * 3 + a] : z[a])) / dt;
}

static void guard_state_free(GuardState *self)
{
    for (int i = 0; i < self->held; i++)
        PyBuffer_Release(&self->v[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int guard_state_init(GuardState *self, PyObject *args, PyObject *kwds)
{
    (void)kwds;
    for (int i = 0; i < self->held; i++)                 /* __init__ called again: start over */
        PyBuffer_Release(&self->v[i]);
    self->held = 0;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != GUARD_STATE_ARRAYS + 6) {
        PyErr_Format(PyExc_TypeError, "GuardState takes %d arguments (see the source)", GUARD_STATE_ARRAYS + 6);
        return -1;
    }
    if (!PyArg_ParseTuple(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS), "dd", &self->init_var[0], &self->init_var[1]))
        return -1;
    self->rate = PyFloat_AsDouble(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS + 1));
    self->min_evidence = PyLong_AsLong(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS + 2));
    self->floor = PyFloat_AsDouble(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS + 3));
    self->dt = PyFloat_AsDouble(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS + 4));
    if (PyErr_Occurred() || !PyArg_ParseTuple(PyTuple_GET_ITEM(args, GUARD_STATE_ARRAYS + 5), "ddddddddddd",
                                              &self->calibration, &self->level_multiple[0], &self->level_up[0],
                                              &self->level_down[0], &self->level_multiple[1], &self->level_up[1],
                                              &self->level_down[1], &self->near_leads, &self->floor_near,
                                              &self->floor_far, &self->ceiling))
        return -1;
    for (; self->held < GUARD_STATE_ARRAYS; self->held++)
        if (get_array(PyTuple_GET_ITEM(args, self->held), &self->v[self->held], &guard_arrays[self->held], "guard") < 0)
            return -1;
    const Py_buffer *v = self->v;
    const Py_ssize_t cap = v[0].shape[0], m = v[0].shape[1], h = v[7].shape[1];
    int sizes = m >= 1 && m <= GUARD_MAX_MODES && h >= 1 && h <= GUARD_MAX_H && v[0].shape[2] == 9;
    sizes &= v[1].shape[0] == cap && v[1].shape[1] == m && v[1].shape[2] == 9 && v[1].shape[3] == 9;
    sizes &= v[2].shape[0] == cap && v[2].shape[1] == m && v[3].shape[0] == cap;
    sizes &= v[4].shape[0] == m && v[4].shape[1] == 9 && v[4].shape[2] == 9 && v[5].shape[0] == m;
    sizes &= v[5].shape[1] == 9 && v[5].shape[2] == 9 && v[6].shape[0] == m && v[6].shape[1] == m;
    sizes &= v[7].shape[0] == m && v[7].shape[2] == 3 && v[7].shape[3] == 9;
    sizes &= v[8].shape[0] == cap && v[8].shape[1] == 3 && v[8].shape[2] == h;
    sizes &= v[9].shape[0] == cap && v[9].shape[1] == h;
    for (int i = 10; i <= 11; i++)
        sizes &= v[i].shape[0] == cap && v[i].shape[1] == h && v[i].shape[2] == h && v[i].shape[3] == 3;
    sizes &= v[12].shape[0] == cap && v[12].shape[1] == h && v[12].shape[2] == h && v[13].shape[0] == cap;
    sizes &= v[14].shape[0] == cap && v[14].shape[1] == h && v[14].shape[2] == h && v[14].shape[3] == 3;
    sizes &= v[15].shape[0] == cap && v[15].shape[1] == h && v[15].shape[2] == h;
    sizes &= v[16].shape[0] == cap && v[16].shape[1] == 2 && v[16].shape[2] == h && v[16].shape[3] == 3;
    if (!sizes) {
        PyErr_SetString(PyExc_ValueError, "GuardState: inconsistent array sizes");
        return -1;
    }
    self->cap = cap;
    self->m = m;
    self->h = h;
    return 0;
}

static PyObject *guard_state_apply(GuardState *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "apply(indices, grid_index, last, noise, out, network)");
        return NULL;
    }
    if (self->held != GUARD_STATE_ARRAYS) {
        PyErr_SetString(PyExc_ValueError, "GuardState was not initialised");
        return NULL;
    }
    Py_buffer v[6];
    int held = 0, all_network = args[5] == Py_None;
    PyObject *result = NULL;
    for (; held < 6 - all_network; held++)
        if (get_array(args[held], &v[held], &guard_arrays[GUARD_STATE_ARRAYS + held], "guard") < 0)
            goto done;
    const Py_ssize_t n = v[0].shape[0], h = self->h;
    int sizes = v[1].shape[0] == n && v[2].shape[0] == n && v[2].shape[1] == 3 && v[3].shape[0] == n;
    sizes &= v[4].shape[0] == n && v[4].shape[1] == 3 && v[4].shape[2] == h && v[4].shape[3] == 3;
    sizes &= all_network || v[5].shape[0] == n;
    if (!sizes) {
        PyErr_SetString(PyExc_ValueError, "GuardState.apply: inconsistent array sizes");
        goto done;
    }
    const int64_t *indices = v[0].buf, *grid = v[1].buf;
    const double *last = v[2].buf, *noise = v[3].buf;
    double *out = v[4].buf;
    const char *network = all_network ? NULL : v[5].buf;
    Py_ssize_t longer = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (indices[i] < 0 || indices[i] >= self->cap) {
            PyErr_Format(PyExc_IndexError, "guard: track index %lld out of range", (long long)indices[i]);
            goto done;
        }
        longer += guard_skips(self, indices[i], grid[i]);
    }
    if (longer) {                                        /* the caller steps those first (numpy) */
        result = PyTuple_New(longer);
        for (Py_ssize_t i = 0, j = 0; result != NULL && i < n; i++)
            if (guard_skips(self, indices[i], grid[i]))
                PyTuple_SET_ITEM(result, j++, PyLong_FromSsize_t(i));
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        guard_track(self, indices[i], grid[i], last + 3 * i, noise[i], out + (size_t)i * 9 * h,
                    network == NULL || network[i]);
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < held; i++)
        PyBuffer_Release(&v[i]);
    return result;
}

static PyMethodDef guard_state_methods[] = {
    {"apply", (PyCFunction)(void (*)(void))guard_state_apply, METH_FASTCALL,
     "apply(indices, grid_index, last, noise, out, network): one Guard.apply (model/guard.py) with its IMM "
     "steps (core/imm.py) for n tracks, in place (see the source)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GuardStateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uav_traj_predictor.kernels._cstream.GuardState",
    .tp_basicsize = sizeof(GuardState),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The guard's state arrays, held for its C steps (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)guard_state_init,
    .tp_dealloc = (destructor)guard_state_free,
    .tp_methods = guard_state_methods,
};

/* ---- methods -------------------------------------------------------------------------------- */
/* A position (3 floats) or, with `sample`, a grid sample of 3, 4, 7 or 10 floats (vx, vy, vz[, noise[, ux, uy,
 * uz[, ax, ay, available]]]) into dst[0..SAMPLE_VALUES-1]: a missing noise is `fill`, a missing interval velocity
 * the velocity, a missing attitude (0, 0, 0) (not available). */
static int parse_values(PyObject *obj, double *dst, const char *name, int sample, double fill)
{
    PyObject *fast = PySequence_Fast(obj, name);
    if (fast == NULL)
        return -1;
    const Py_ssize_t size = PySequence_Fast_GET_SIZE(fast);
    int status = 0;
    if (!(size == 3 || (sample && (size == 4 || size == 7 || size == SAMPLE_VALUES)))) {
        PyErr_Format(PyExc_ValueError, "cstream.advance: each %s must have %s values", name,
                     sample ? "3, 4 or 7 (or 10: with the attitude)" : "3");
        status = -1;
    }
    for (Py_ssize_t i = 0; status == 0 && i < size; i++) {
        dst[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (dst[i] == -1.0 && PyErr_Occurred())
            status = -1;
    }
    if (status == 0 && sample && size < 4)
        dst[3] = fill;
    if (status == 0 && sample && size < 7)
        for (int i = 0; i < 3; i++)
            dst[4 + i] = dst[i];
    if (status == 0 && sample && size < SAMPLE_VALUES)
        for (int i = 7; i < SAMPLE_VALUES; i++)
            dst[i] = 0.0;
    Py_DECREF(fast);
    return status;
}

typedef struct {
    Py_buffer gru, top, last_velocity, count, active, out, ready;
    int held;                                            /* buffers acquired so far */
} AdvanceBuffers;

static void release_buffers(AdvanceBuffers *b)
{
    Py_buffer *all[] = {&b->gru, &b->top, &b->last_velocity, &b->count, &b->active, &b->out, &b->ready};
    for (int i = 0; i < b->held; i++)
        PyBuffer_Release(all[i]);
}

/* The five arrays of the state object `tracks` (attributes), then out and ready. */
static int get_buffers(PyObject *tracks, PyObject *out, PyObject *ready, AdvanceBuffers *b)
{
    static const ArraySpec specs[] = {{"gru", 'f', 3}, {"top", 'f', 2}, {"last_velocity", 'd', 2}, {"count", 'q', 1},
                                      {"active", '?', 1}, {"out", 'd', 4}, {"ready", '?', 1}};
    Py_buffer *all[] = {&b->gru, &b->top, &b->last_velocity, &b->count, &b->active, &b->out, &b->ready};
    b->held = 0;
    for (int i = 0; i < 7; i++) {
        PyObject *array = i == 5 ? Py_NewRef(out) : i == 6 ? Py_NewRef(ready) : PyObject_GetAttrString(tracks, specs[i].name);
        if (array == NULL)
            return -1;
        int got = get_array(array, all[i], &specs[i], "cstream.advance");
        Py_DECREF(array);                                /* the buffer view keeps the array alive */
        if (got < 0)
            return -1;
        b->held++;
    }
    return 0;
}

/* advance(tracks, slots, step_lists, last_positions, min_history, max_speed, out, ready, noise_prior[, guard]):
 * for each track i of `slots` step its grid samples (a list of 3, 4, 7 or 10 values, parse_values, in order;
 * a sample without a noise level gets `noise_prior`, one without an attitude none), then, when its count
 * reaches min_history, write its prediction into out[i] (3, S, 3) and set ready[i]; ready[i] False: no
 * prediction here (warming up or a non-finite output; the caller's general path makes it). With `guard` (a
 * GuardState over the same slots, horizon S) each ready row also gets its guard step (guard_track) at the
 * track's new grid index, from its last position and the noise level of its newest sample (noise_prior
 * without one): returns None, or the tuple of ready rows whose filter would skip grid steps, left unguarded
 * for the caller. Everything is validated before any state changes (slots active and unique, each velocity
 * finite and within max_speed, each noise finite and >= 0, with the attitude input each attitude finite with
 * an availability of 0 or 1, positions 3 floats, the guard's size): an error leaves the state untouched. */
static PyObject *plan_advance(Plan *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9 && nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "advance(tracks, slots, step_lists, last_positions, min_history, "
                        "max_speed, out, ready, noise_prior[, guard])");
        return NULL;
    }
    GuardState *guard = NULL;
    if (nargs == 10 && args[9] != Py_None) {
        if (!PyObject_TypeCheck(args[9], &GuardStateType) || ((GuardState *)args[9])->held != GUARD_STATE_ARRAYS) {
            PyErr_SetString(PyExc_TypeError, "cstream.advance: guard must be an initialised GuardState or None");
            return NULL;
        }
        guard = (GuardState *)args[9];
    }
    const long min_history = PyLong_AsLong(args[4]);
    const double max_speed = PyFloat_AsDouble(args[5]);
    const double noise_prior = PyFloat_AsDouble(args[8]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *slots = PySequence_Fast(args[1], "slots must be a sequence");
    PyObject *lists = slots ? PySequence_Fast(args[2], "step_lists must be a sequence") : NULL;
    PyObject *lasts = lists ? PySequence_Fast(args[3], "last_positions must be a sequence") : NULL;
    AdvanceBuffers b = {.held = 0};
    Py_ssize_t *slot = NULL, *first = NULL, *left = NULL, unguarded = 0;
    char *seen = NULL;                                   /* slots given so far (a repeat is an error) */
    double *values = NULL;
    PyObject *result = NULL;
    if (lasts == NULL || get_buffers(args[0], args[6], args[7], &b) < 0)
        goto done;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(slots), rows = b.gru.shape[1], hid = self->hidden;
    const int s = self->steps;
    if (PySequence_Fast_GET_SIZE(lists) != n || PySequence_Fast_GET_SIZE(lasts) != n ||
        b.out.shape[0] != n || b.out.shape[1] != 3 || b.out.shape[2] != s || b.out.shape[3] != 3 ||
        b.ready.shape[0] != n || b.gru.shape[0] != self->layers || b.gru.shape[2] != hid ||
        b.top.shape[0] != rows || b.top.shape[1] != hid || b.last_velocity.shape[0] != rows ||
        b.last_velocity.shape[1] != 3 || b.count.shape[0] != rows || b.active.shape[0] != rows ||
        (guard != NULL && (guard->h != s || guard->cap < rows))) {
        PyErr_Format(PyExc_ValueError, "cstream.advance: inconsistent sizes (n tracks, gru (L, N, H), top (N, H), "
                     "last_velocity (N, 3), count (N,), active (N,), out (n, 3, %d, 3), ready (n,), a guard of horizon %d "
                     "over at least N slots)", s, s);
        goto done;
    }
    /* validate and parse everything first: first[i]..first[i+1] are track i's samples in values */
    slot = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(3 * n + 1));
    if (slot == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    first = slot + n;
    left = first + n + 1;
    seen = PyMem_Calloc((size_t)rows + 1, 1);
    if (seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t total = 0;
    const char *active = (const char *)b.active.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        slot[i] = PyNumber_AsSsize_t(PySequence_Fast_GET_ITEM(slots, i), PyExc_IndexError);
        if (slot[i] == -1 && PyErr_Occurred())
            goto done;
        if (slot[i] < 0 || slot[i] >= rows || !active[slot[i]]) {
            PyErr_Format(PyExc_IndexError, "track index %zd is unknown or removed", slot[i]);
            goto done;
        }
        if (seen[slot[i]]) {
            PyErr_Format(PyExc_IndexError, "track index %zd given twice", slot[i]);
            goto done;
        }
        seen[slot[i]] = 1;
        Py_ssize_t count = PyObject_Length(PySequence_Fast_GET_ITEM(lists, i));
        if (count < 0)
            goto done;
        first[i] = total;
        total += count;
    }
    first[n] = total;
    values = PyMem_Malloc(sizeof(double) * (size_t)(SAMPLE_VALUES * total + 3 * n + 1));
    if (values == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *positions = values + SAMPLE_VALUES * total;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *list = PySequence_Fast(PySequence_Fast_GET_ITEM(lists, i), "step lists must be sequences");
        if (list == NULL)
            goto done;
        int bad = PySequence_Fast_GET_SIZE(list) != first[i + 1] - first[i];
        for (Py_ssize_t j = 0; !bad && j < first[i + 1] - first[i]; j++) {
            double *v = values + SAMPLE_VALUES * (first[i] + j);
            bad = parse_values(PySequence_Fast_GET_ITEM(list, j), v, "grid sample", 1, noise_prior) < 0;
            for (int a = 0; !bad && a < 7; a++)                  /* velocity and interval velocity */
                if (a != 3 && !(v[a] >= -max_speed && v[a] <= max_speed)) {   /* NaN fails too */
                    PyErr_Format(PyExc_ValueError, "step(): velocity non-finite or above MAX_SPEED = %g m/s; "
                                 "reset the track instead of feeding it", max_speed);
                    bad = 1;
                }
            if (!bad && !(v[3] >= 0.0 && isfinite(v[3]))) {
                PyErr_SetString(PyExc_ValueError, "step(): noise levels must be finite and >= 0 m");
                bad = 1;
            }
            /* the attitude only where the model reads it (StreamingPredictor.step's check; others ignore it) */
            if (!bad && self->attitude && !(isfinite(v[7]) && isfinite(v[8]) && (v[9] == 0.0 || v[9] == 1.0))) {
                PyErr_SetString(PyExc_ValueError, "step(): attitudes must be finite with an availability of 0 or 1");
                bad = 1;
            }
        }
        Py_DECREF(list);
        if (bad || parse_values(PySequence_Fast_GET_ITEM(lasts, i), positions + 3 * i, "last position", 0, 0.0) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "cstream.advance: a step list changed size");
            goto done;
        }
    }
    /* then advance and predict */
    float *state = (float *)b.gru.buf, *top = (float *)b.top.buf;
    double *last_velocity = (double *)b.last_velocity.buf, *out = (double *)b.out.buf;
    int64_t *counts = (int64_t *)b.count.buf;
    char *ready = (char *)b.ready.buf;
    /* BLOCK tracks at a time: their j-th samples are stepped together while all of them have one (one pass
     * over the weights for the block), the rest one track at a time; then the block's heads likewise. Each
     * track's arithmetic is the same either way (affine_block), so results do not depend on the grouping. */
    const Py_ssize_t last_layer = (Py_ssize_t)(self->layers - 1) * rows;
    for (Py_ssize_t i0 = 0; i0 < n; i0 += BLOCK) {
        const Py_ssize_t nb = n - i0 < BLOCK ? n - i0 : BLOCK;
        Py_ssize_t most = 0;
        for (Py_ssize_t i = i0; i < i0 + nb; i++)
            most = first[i + 1] - first[i] > most ? first[i + 1] - first[i] : most;
        for (Py_ssize_t j = 0; j < most; j++) {
            int stepping = 0;
            for (Py_ssize_t i = i0; i < i0 + nb; i++)
                stepping += first[i + 1] - first[i] > j;
            if (stepping == BLOCK) {
                const double *v[BLOCK], *lv[BLOCK];
                int fresh[BLOCK];
                for (int t = 0; t < BLOCK; t++) {
                    v[t] = values + SAMPLE_VALUES * (first[i0 + t] + j);
                    lv[t] = last_velocity + 3 * slot[i0 + t];
                    fresh[t] = counts[slot[i0 + t]] == 0;
                }
                step_rows_block(self, state, rows, slot + i0, v, lv, fresh);
            }
            for (Py_ssize_t i = i0; i < i0 + nb; i++) {
                if (first[i + 1] - first[i] <= j)
                    continue;
                const double *v = values + SAMPLE_VALUES * (first[i] + j);
                double *lv = last_velocity + 3 * slot[i];
                if (stepping != BLOCK)
                    step_row(self, state, rows, slot[i], v, lv, counts[slot[i]] == 0);
                memcpy(lv, v, sizeof(double) * 3);
                counts[slot[i]] += 1;
            }
        }
        int predicting = 0;
        for (Py_ssize_t i = i0; i < i0 + nb; i++) {
            memcpy(top + slot[i] * hid, state + (last_layer + slot[i]) * hid, sizeof(float) * (size_t)hid);
            predicting += counts[slot[i]] >= min_history;
        }
        if (predicting == BLOCK) {
            float *tops = self->xh;                      /* free until the next step */
            for (int t = 0; t < BLOCK; t++)
                memcpy(tops + (size_t)t * hid, top + slot[i0 + t] * hid, sizeof(float) * (size_t)hid);
            head_dense_block(self, tops);
        }
        for (Py_ssize_t i = i0; i < i0 + nb; i++) {
            const double *lv = last_velocity + 3 * slot[i];
            double *row = out + (size_t)i * 9 * s;
            if (predicting == BLOCK)
                ready[i] = predict_post(self, self->out32 + (size_t)(i - i0) * self->out_cols, lv, positions + 3 * i, row);
            else
                ready[i] = counts[slot[i]] >= min_history && predict_row(self, top + slot[i] * hid, lv,
                                                                         positions + 3 * i, row);
        }
    }
    /* the guard after all the network's work (its few KB of state per track kept out of the blocks' cache) */
    for (Py_ssize_t i = 0; guard != NULL && i < n; i++) {
        if (!ready[i])
            continue;
        if (guard_skips(guard, slot[i], counts[slot[i]])) {
            left[unguarded++] = i;
            continue;
        }
        const double noise = first[i + 1] > first[i] ? values[SAMPLE_VALUES * (first[i + 1] - 1) + 3] : noise_prior;
        guard_track(guard, slot[i], counts[slot[i]], positions + 3 * i, noise, out + (size_t)i * 9 * s, 1);
    }
    if (unguarded) {
        result = PyTuple_New(unguarded);
        for (Py_ssize_t j = 0; result != NULL && j < unguarded; j++)
            PyTuple_SET_ITEM(result, j, PyLong_FromSsize_t(left[j]));
    } else {
        result = Py_NewRef(Py_None);
    }
done:
    release_buffers(&b);
    PyMem_Free(slot);
    PyMem_Free(seen);
    PyMem_Free(values);
    Py_XDECREF(slots);
    Py_XDECREF(lists);
    Py_XDECREF(lasts);
    return result;
}

static PyMethodDef plan_methods[] = {
    {"advance", (PyCFunction)(void (*)(void))plan_advance, METH_FASTCALL,
     "advance(tracks, slots, step_lists, last_positions, min_history, max_speed, out, ready, noise_prior[, guard]): "
     "steps, predictions and guard steps of n tracks in one call (see the source)."},
    {NULL, NULL, 0, NULL},
};

static PyObject *plan_hidden(Plan *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->hidden);
}

static PyGetSetDef plan_getset[] = {
    {"hidden", (getter)plan_hidden, NULL, "hidden size", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "uav_traj_predictor.kernels._cstream.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One track's fused streaming update (see the module source).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)plan_init,
    .tp_dealloc = (destructor)plan_free,
    .tp_methods = plan_methods,
    .tp_getset = plan_getset,
};

static PyMethodDef module_methods[] = {
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cstream",
    .m_doc = "Fused streaming update of a few tracks (GRU steps + head) in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__cstream(void)
{
    if (PyType_Ready(&PlanType) < 0 || PyType_Ready(&GuardStateType) < 0 || PyType_Ready(&StreamCoreType) < 0
        || PyType_Ready(&AttitudeCoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddType(m, &PlanType) < 0 || PyModule_AddType(m, &GuardStateType) < 0 ||
        PyModule_AddType(m, &StreamCoreType) < 0 || PyModule_AddType(m, &AttitudeCoreType) < 0 ||
        PyModule_AddIntConstant(m, "GUARD_MAX_H", GUARD_MAX_H) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
