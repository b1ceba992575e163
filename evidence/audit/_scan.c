/* Optional accelerator for the audit (evidence.audit.native, evidence.audit.tree); the pure-Python paths in
 * evidence.audit.scan and evidence.merkle compute the same results and are used when this module is not built.
 *
 * Why C: in Python the audit's overhead per entry (a tuple per fetched row, slicing, a hashing call,
 * chain-prefix parsing, one call per tree node) costs more than the SHA-256 work itself (bench/evidence_bench.py
 * prints both). Here scan_copy reads a chunk's COPY BINARY stream and, per row, hashes the entry with OpenSSL, parses the canonical
 * chain prefix and follows the device's chain; build_levels and roots do the tree arithmetic.
 *
 * scan_copy only confirms. Anything it does not recognise (odd framing, a NULL, an index out of turn, a stored
 * leaf that differs, a non-canonical prefix, a JSON escape in a chain field or the entry type, a copied column
 * that differs from the entry bytes, a broken link) makes it answer "not clean", and the caller re-checks the
 * chunk with the Python exact path, which names every finding.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

static EVP_MD *sha256_md;

typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} span;

static int sha256_two(EVP_MD_CTX *ctx, const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                      unsigned char *out) {
    unsigned int len;
    return EVP_DigestInit_ex2(ctx, sha256_md, NULL) && EVP_DigestUpdate(ctx, a, na) &&
           EVP_DigestUpdate(ctx, b, nb) && EVP_DigestFinal_ex(ctx, out, &len);
}

static int64_t be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return (int64_t)v;
}

static int32_t be32(const unsigned char *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}

/* One COPY BINARY field: its 4-byte length, then the bytes; NULL (-1) and overruns fail. */
static int field(const unsigned char **cur, const unsigned char *end, span *out) {
    if (end - *cur < 4) return 0;
    int32_t len = be32(*cur);
    *cur += 4;
    if (len < 0 || end - *cur < len) return 0;
    out->p = *cur;
    out->n = len;
    *cur += len;
    return 1;
}

static int lit(const unsigned char **cur, const unsigned char *end, const char *s) {
    size_t n = strlen(s);
    if ((size_t)(end - *cur) < n || memcmp(*cur, s, n) != 0) return 0;
    *cur += n;
    return 1;
}

/* A JSON string without escapes ("..." holding no quote or backslash), or null when allowed. A backslash
 * fails on purpose: escaped ids are rare, and the exact path reads them with a full JSON decoder. */
static int plain_string(const unsigned char **cur, const unsigned char *end, int allow_null, span *content) {
    if (allow_null && lit(cur, end, "null")) {
        content->p = NULL;
        content->n = 0;
        return 1;
    }
    if (*cur >= end || **cur != '"') return 0;
    const unsigned char *s = *cur + 1, *q = memchr(s, '"', end - s);
    if (q == NULL || memchr(s, '\\', q - s) != NULL) return 0;
    content->p = s;
    content->n = q - s;
    *cur = q + 1;
    return 1;
}

static signed char hex_table[256]; /* value of a lower-case hex digit, -1 otherwise (canonical hex is lower-case) */

static void init_hex_table(void) {
    memset(hex_table, -1, sizeof hex_table);
    for (int c = 0; c < 10; c++) hex_table['0' + c] = (signed char)c;
    for (int c = 0; c < 6; c++) hex_table['a' + c] = (signed char)(10 + c);
}

static inline int hexval(unsigned char c) { return hex_table[c]; }

static int hex32(const unsigned char *p, unsigned char *out) {
    for (int i = 0; i < 32; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0) return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* The canonical chain prefix (see evidence.entry_bytes._CHAIN_PREFIX; this accepts a subset of it):
 * {"calibration_cert_id":S|null,"capture_time":S|null,"device_id":S,"device_prev_hash":null|"<64 hex>",
 * "device_seq":N,"device_sig":null|{"alg":S,"key_id":S,"sig":S},"entry_type":S, */
static int chain_prefix(span e, span *device, int *has_prev, unsigned char *prev, int64_t *seq, span *type) {
    const unsigned char *cur = e.p, *end = e.p + e.n;
    span ignored;
    if (!lit(&cur, end, "{\"calibration_cert_id\":") || !plain_string(&cur, end, 1, &ignored) ||
        !lit(&cur, end, ",\"capture_time\":") || !plain_string(&cur, end, 1, &ignored) ||
        !lit(&cur, end, ",\"device_id\":") || !plain_string(&cur, end, 0, device) ||
        !lit(&cur, end, ",\"device_prev_hash\":"))
        return 0;
    if (lit(&cur, end, "null")) {
        *has_prev = 0;
        memset(prev, 0, 32);
    } else {
        if (end - cur < 66 || cur[0] != '"' || cur[65] != '"' || !hex32(cur + 1, prev)) return 0;
        *has_prev = 1;
        cur += 66;
    }
    if (!lit(&cur, end, ",\"device_seq\":") || cur >= end) return 0;
    if (*cur == '0') {
        *seq = 0;
        cur++;
    } else {
        int64_t v = 0;
        int digits = 0;
        while (cur < end && *cur >= '0' && *cur <= '9') {
            if (++digits > 18) return 0; /* beyond any real sequence; avoids overflow */
            v = v * 10 + (*cur++ - '0');
        }
        if (digits == 0) return 0;
        *seq = v;
    }
    if (!lit(&cur, end, ",\"device_sig\":")) return 0;
    if (!lit(&cur, end, "null") &&
        !(lit(&cur, end, "{\"alg\":") && plain_string(&cur, end, 0, &ignored) && lit(&cur, end, ",\"key_id\":") &&
          plain_string(&cur, end, 0, &ignored) && lit(&cur, end, ",\"sig\":") &&
          plain_string(&cur, end, 0, &ignored) && lit(&cur, end, "}")))
        return 0;
    return lit(&cur, end, ",\"entry_type\":") && plain_string(&cur, end, 0, type) && cur < end && *cur == ',';
}

static const unsigned char *find(const unsigned char *from, const unsigned char *end, const char *s) {
    size_t n = strlen(s);
    if (from >= end || (size_t)(end - from) < n) return NULL;
    return memmem(from, end - from, s, n);
}

/* The media hashes of one entry, as evidence.entry_bytes.media_hashes reads them from the canonical layout;
 * 0 where that layout is not found (the caller then reads the chunk in Python, JSON fallback included). */
static int media_hashes(span e, PyObject *out) {
    const unsigned char *end = e.p + e.n;
    const unsigned char *a = find(e.p, end, "\"gateway_received_at\":\"");
    if (a == NULL) return 0;
    const unsigned char *b = memchr(a + 23, '"', end - (a + 23));
    if (b == NULL) return 0;
    const unsigned char *cur = b + 1;
    if (!lit(&cur, end, ",\"media\":[")) return 0;
    if (cur < end && *cur == ']') return 1;
    const unsigned char *stop = find(cur, end, "],\"origin\":\"");
    if (stop == NULL) return 0;
    while ((cur = find(cur, stop, "\"sha256\":\"")) != NULL) {
        const unsigned char *h = cur + 10;
        int ok = stop - h >= 65 && h[64] == '"';
        for (int i = 0; ok && i < 64; i++) ok = hexval(h[i]) >= 0;
        if (!ok) {
            cur++;
            continue;
        }
        PyObject *hex = PyUnicode_DecodeASCII((const char *)h, 64, NULL);
        if (hex == NULL || PySet_Add(out, hex) < 0) {
            Py_XDECREF(hex);
            return -1;
        }
        Py_DECREF(hex);
        cur = h + 65;
    }
    return 1;
}

static PyObject *new_bytes(Py_ssize_t n, unsigned char **p) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (b != NULL) *p = (unsigned char *)PyBytes_AS_STRING(b);
    return b;
}

/* One device's chain inside the chunk so far; evidence.audit.native reads these records (DEVICE_RECORD). */
typedef struct {
    int64_t first_idx, first_seq, last_seq;
    unsigned char first_prev[32], last_leaf[32];
    unsigned char has_first_prev, pad[7];
} device_record;

/* The code of a device id (its position in `devices`, first sight first), growing `state` by one record for
 * a new device; -1 on error. */
static int64_t device_code(PyObject *devices, PyObject *state, span dev, int *is_new) {
    PyObject *key = PyBytes_FromStringAndSize((const char *)dev.p, dev.n), *found;
    int64_t code = -1;
    if (key == NULL) return -1;
    found = PyDict_GetItemWithError(devices, key);
    *is_new = found == NULL;
    if (found != NULL) {
        code = PyLong_AsLongLong(found);
    } else if (!PyErr_Occurred()) {
        Py_ssize_t next = PyDict_GET_SIZE(devices);
        PyObject *value = PyLong_FromSsize_t(next);
        if (value != NULL && PyDict_SetItem(devices, key, value) == 0 &&
            PyByteArray_Resize(state, (next + 1) * (Py_ssize_t)sizeof(device_record)) == 0)
            code = next;
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    return code;
}

/* Reads one row and checks it against the rows before it in the chunk; 1 if it is plainly clean. */
static int check_row(const unsigned char *cur, const unsigned char *end, int64_t want_idx, EVP_MD_CTX *ctx,
                     PyObject *devices, PyObject *state, PyObject *media, unsigned char *leaf, int *media_ok) {
    static const unsigned char zero = 0;
    span f_idx, f_seq, f_leaf, f_entry, f_dev, f_type, device, type;
    unsigned char prev[32];
    int64_t seq = -1;
    int has_prev = 0, is_new = 0;
    if (end - cur < 2 || cur[0] != 0 || cur[1] != 6) return 0;
    cur += 2;
    if (!field(&cur, end, &f_idx) || f_idx.n != 8 || be64(f_idx.p) != want_idx || !field(&cur, end, &f_seq) ||
        f_seq.n != 8 || !field(&cur, end, &f_leaf) || f_leaf.n != 32 || !field(&cur, end, &f_entry) ||
        !field(&cur, end, &f_dev) || !field(&cur, end, &f_type) || cur != end)
        return 0;
    if (!sha256_two(ctx, &zero, 1, f_entry.p, f_entry.n, leaf)) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
        return -1;
    }
    if (memcmp(leaf, f_leaf.p, 32) != 0 || !chain_prefix(f_entry, &device, &has_prev, prev, &seq, &type) ||
        seq != be64(f_seq.p) || device.n != f_dev.n || memcmp(device.p, f_dev.p, f_dev.n) != 0 ||
        type.n != f_type.n || memcmp(type.p, f_type.p, f_type.n) != 0)
        return 0;
    int64_t code = device_code(devices, state, f_dev, &is_new);
    if (code < 0) return -1;
    device_record *r = (device_record *)PyByteArray_AS_STRING(state) + code;
    if (is_new) {
        r->first_idx = want_idx;
        r->first_seq = seq;
        r->has_first_prev = (unsigned char)has_prev;
        memcpy(r->first_prev, prev, 32);
        memset(r->pad, 0, sizeof r->pad);
    } else if (seq != r->last_seq + 1 || !has_prev || memcmp(prev, r->last_leaf, 32) != 0) {
        return 0; /* a break inside the chunk: the exact path names it */
    }
    r->last_seq = seq;
    memcpy(r->last_leaf, leaf, 32);
    if (media != Py_None) {
        int m = media_hashes(f_entry, media);
        if (m < 0) return -1;
        *media_ok = *media_ok && m;
    }
    return 1;
}

static const unsigned char copy_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

/* The first data row of a COPY BINARY stream comes after its header: signature, flags, extension area. */
static int skip_header(const unsigned char **cur, const unsigned char *end) {
    if (end - *cur < 19 || memcmp(*cur, copy_signature, 11) != 0) return 0;
    int32_t ext = be32(*cur + 15);
    if (ext < 0 || end - *cur < 19 + (Py_ssize_t)ext) return 0;
    *cur += 19 + ext;
    return 1;
}

PyDoc_STRVAR(scan_copy_doc,
"scan_copy(get, first_idx, expected, devices, state, media) -> (rows, leaves, clean)\n\n"
"Reads a COPY BINARY stream of (idx, device_seq, leaf_hash, entry, device_id, entry_type) rows to its end\n"
"by calling get(0) (psycopg's PGconn.get_copy_data) until it returns a negative length, and checks each row as it\n"
"arrives, while it is still in the CPU cache. The rows should be entries first_idx .. first_idx+expected-1.\n"
"devices: an empty dict, filled with device-id bytes -> code (first sight first); state: an empty bytearray,\n"
"filled with one device record per code (see evidence.audit.native.DEVICE_RECORD).\n"
"media: a set that receives each entry's media hashes (hex str), or None to skip them.\n"
"Returns the number of data rows, their recomputed leaf hashes (32 bytes each, valid only when clean) and\n"
"whether every row was plainly clean: framing, index, stored leaf, canonical prefix (chain fields and\n"
"entry type) equal to the copied columns, each device's chain continued, and with media every media\n"
"list in the canonical layout.\n"
"False means: re-check these entries exactly.");

static PyObject *scan_copy(PyObject *self, PyObject *args) {
    PyObject *get, *devices, *state, *media, *zero = NULL, *leaves = NULL;
    long long first_idx;
    Py_ssize_t expected, rows = 0;
    if (!PyArg_ParseTuple(args, "OLnO!O!O", &get, &first_idx, &expected, &PyDict_Type, &devices, &PyByteArray_Type,
                          &state, &media))
        return NULL;
    if (media != Py_None && !PySet_Check(media)) return PyErr_Format(PyExc_TypeError, "media must be a set or None");
    if (expected < 0) return PyErr_Format(PyExc_ValueError, "expected must be >= 0");
    unsigned char *leaf_p;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int clean = 1, media_ok = 1, header = 1, trailer = 0;
    zero = PyLong_FromLong(0);
    leaves = new_bytes(32 * expected, &leaf_p);
    if (ctx == NULL || zero == NULL || leaves == NULL) goto fail;
    memset(leaf_p, 0, 32 * expected);
    for (;;) {
        PyObject *got = PyObject_CallOneArg(get, zero);
        if (got == NULL) goto fail;
        if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 2) {
            Py_DECREF(got);
            PyErr_SetString(PyExc_TypeError, "get(0) must return (nbytes, buffer)");
            goto fail;
        }
        Py_ssize_t nbytes = PyLong_AsSsize_t(PyTuple_GET_ITEM(got, 0));
        if (nbytes < 0) {
            Py_DECREF(got);
            if (PyErr_Occurred()) goto fail;
            break; /* -1: the copy is done (get raises on -2) */
        }
        Py_buffer view;
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(got, 1), &view, PyBUF_SIMPLE) < 0) {
            Py_DECREF(got);
            goto fail;
        }
        const unsigned char *cur = view.buf, *end = cur + view.len;
        int was_header = header;
        if (header) {
            clean = clean && skip_header(&cur, end);
            header = 0;
        }
        if (was_header && cur == end) {
            /* PostgreSQL sends the header with the first row; a server that sends it alone is fine too */
        } else if (end - cur == 2 && cur[0] == 0xff && cur[1] == 0xff) {
            trailer = 1;
        } else {
            clean = clean && !trailer && rows < expected;
            if (clean) {
                int ok = check_row(cur, end, first_idx + rows, ctx, devices, state, media, leaf_p + 32 * rows,
                                   &media_ok);
                if (ok < 0) {
                    PyBuffer_Release(&view);
                    Py_DECREF(got);
                    goto fail;
                }
                clean = ok;
            }
            rows++;
        }
        PyBuffer_Release(&view);
        Py_DECREF(got);
    }
    clean = clean && trailer && media_ok && rows == expected;
    EVP_MD_CTX_free(ctx);
    Py_DECREF(zero);
    return Py_BuildValue("nNO", rows, leaves, clean ? Py_True : Py_False);
fail:
    EVP_MD_CTX_free(ctx);
    Py_XDECREF(zero);
    Py_XDECREF(leaves);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

PyDoc_STRVAR(build_levels_doc,
"build_levels(leaves) -> list[bytes]\n\n"
"Every complete subtree over the concatenated 32-byte leaf hashes, level by level (only full pairs\n"
"combine, as RFC 6962 interior nodes SHA-256(0x01 || left || right)), each level concatenated.");

static PyObject *build_levels(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len % 32) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "leaves must be a multiple of 32 bytes");
    }
    PyObject *out = PyList_New(0), *level = PyBytes_FromStringAndSize(view.buf, view.len);
    PyBuffer_Release(&view);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const unsigned char one = 1;
    if (out == NULL || level == NULL || ctx == NULL || PyList_Append(out, level) < 0) goto fail;
    while (PyBytes_GET_SIZE(level) > 32) {
        Py_ssize_t pairs = PyBytes_GET_SIZE(level) / 64;
        const unsigned char *src = (const unsigned char *)PyBytes_AS_STRING(level);
        unsigned char *dst;
        PyObject *next = new_bytes(32 * pairs, &dst);
        if (next == NULL) goto fail;
        for (Py_ssize_t i = 0; i < pairs; i++) {
            if (!sha256_two(ctx, &one, 1, src + 64 * i, 64, dst + 32 * i)) {
                Py_DECREF(next);
                PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
                goto fail;
            }
        }
        Py_DECREF(level);
        level = next;
        if (PyList_Append(out, level) < 0) goto fail;
    }
    Py_DECREF(level);
    EVP_MD_CTX_free(ctx);
    return out;
fail:
    EVP_MD_CTX_free(ctx);
    Py_XDECREF(level);
    Py_XDECREF(out);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

/* The hash of the complete subtree (level, pos) in the rebuilt tree's layout (evidence.audit.tree.RebuiltTree):
 * per chunk a list of concatenated levels up to the chunk level, above it one concatenated level each. */
static const unsigned char *tree_node(PyObject *chunks, PyObject *top, int chunk_level, int level, int64_t pos) {
    PyObject *b;
    int64_t local = pos;
    if (level > chunk_level) {
        Py_ssize_t lv = level - chunk_level - 1;
        if (lv >= PyList_GET_SIZE(top)) return NULL;
        b = PyList_GET_ITEM(top, lv);
    } else {
        int64_t chunk = (pos << level) >> chunk_level;
        if (chunk >= PyList_GET_SIZE(chunks)) return NULL;
        PyObject *levels = PyList_GET_ITEM(chunks, chunk);
        if (!PyList_Check(levels) || level >= PyList_GET_SIZE(levels)) return NULL;
        b = PyList_GET_ITEM(levels, level);
        local = pos - (chunk << (chunk_level - level));
    }
    if (!PyBytes_Check(b) || (local + 1) * 32 > PyBytes_GET_SIZE(b)) return NULL;
    return (const unsigned char *)PyBytes_AS_STRING(b) + 32 * local;
}

PyDoc_STRVAR(roots_doc,
"roots(sizes, chunks, top, chunk_level) -> bytes\n\n"
"The RFC 6962 root of the first `size` leaves for each size (a buffer of native int64), 32 bytes each, folded\n"
"from the complete subtrees of the rebuilt tree (chunks: per chunk a list of concatenated levels; top: the\n"
"concatenated levels above the chunk level). 32 zero bytes where a subtree is missing.");

static PyObject *roots(PyObject *self, PyObject *args) {
    Py_buffer sizes;
    PyObject *chunks, *top;
    int chunk_level;
    if (!PyArg_ParseTuple(args, "y*O!O!i", &sizes, &PyList_Type, &chunks, &PyList_Type, &top, &chunk_level))
        return NULL;
    if (sizes.len % 8 || chunk_level < 0 || chunk_level > 40) {
        PyBuffer_Release(&sizes);
        return PyErr_Format(PyExc_ValueError, "sizes must be int64 values and chunk_level in 0..40");
    }
    Py_ssize_t n = sizes.len / 8;
    unsigned char *out_p, buf[65];
    PyObject *out = new_bytes(32 * n, &out_p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static const unsigned char one = 1;
    if (out == NULL || ctx == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t size;
        memcpy(&size, (const char *)sizes.buf + 8 * i, 8);
        unsigned char *root = out_p + 32 * i;
        const unsigned char *parts[64];
        int m = 0, missing = size < 0;
        int64_t start = 0;
        for (int b = 62; b >= 0 && !missing; b--) {
            if (size >> b & 1) {
                parts[m] = tree_node(chunks, top, chunk_level, b, start >> b);
                missing = parts[m++] == NULL;
                start += (int64_t)1 << b;
            }
        }
        if (missing) {
            memset(root, 0, 32);
            continue;
        }
        if (m == 0) { /* the empty tree: SHA-256 of nothing */
            if (!sha256_two(ctx, &one, 0, &one, 0, root)) goto hash_fail;
            continue;
        }
        memcpy(root, parts[m - 1], 32);
        for (int k = m - 2; k >= 0; k--) { /* left-balanced: fold from the smallest, rightmost subtree */
            memcpy(buf + 1, parts[k], 32);
            memcpy(buf + 33, root, 32);
            buf[0] = 1;
            if (!sha256_two(ctx, buf, 65, &one, 0, root)) goto hash_fail;
        }
    }
    PyBuffer_Release(&sizes);
    EVP_MD_CTX_free(ctx);
    return out;
hash_fail:
    PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
fail:
    PyBuffer_Release(&sizes);
    EVP_MD_CTX_free(ctx);
    Py_XDECREF(out);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

static PyMethodDef methods[] = {
    {"roots", roots, METH_VARARGS, roots_doc},
    {"scan_copy", scan_copy, METH_VARARGS, scan_copy_doc},
    {"build_levels", build_levels, METH_O, build_levels_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "evidence.audit._scan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void) {
    init_hex_table();
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md == NULL) return PyErr_Format(PyExc_ImportError, "OpenSSL has no SHA256 digest");
    return PyModule_Create(&module);
}
