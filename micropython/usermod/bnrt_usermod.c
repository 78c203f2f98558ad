/* MicroPython user C module `bnrt_c`: the C runtime (firmware/src) behind a
 * small Python API, for boards where the pure-Python module is too slow.
 *
 *   import bnrt_c
 *   m = bnrt_c.load(blob)          # blob: bytes/bytearray, 8-byte aligned; kept alive by m
 *   m.layer_count
 *   m.run(layer, x, y, spatial, first=0)   # x, y: buffers of the layer's dtype
 *
 * Errors raise ValueError("ERR_CRC") etc., the status names of spec.py.
 * Build: docs/micropython.md ("C user module"). */
#include <stdint.h>
#include <string.h>

#include "py/obj.h"
#include "py/runtime.h"

#include "bnrt.h"

typedef struct {
    mp_obj_base_t base;
    mp_obj_t blob; /* keeps the buffer alive: the model points into it */
    bnrt_model_t model;
} bnrt_c_model_obj_t;

static const mp_obj_type_t bnrt_c_model_type;

static MP_NORETURN void raise_status(bnrt_status_t st)
{
    mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("%s"), bnrt_status_name(st));
}

static mp_obj_t bnrt_c_load(mp_obj_t blob_in)
{
    mp_buffer_info_t buf;
    bnrt_c_model_obj_t *self;
    bnrt_status_t st;

    mp_get_buffer_raise(blob_in, &buf, MP_BUFFER_READ);
    self = mp_obj_malloc(bnrt_c_model_obj_t, &bnrt_c_model_type);
    self->blob = blob_in;
    st = bnrt_model_load(&self->model, (const uint8_t *)buf.buf, buf.len);
    if (st != BNRT_OK)
        raise_status(st);
    return MP_OBJ_FROM_PTR(self);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bnrt_c_load_obj, bnrt_c_load);

/* run(layer, x, y, spatial, first=0) */
static mp_obj_t bnrt_c_model_run(size_t n_args, const mp_obj_t *args)
{
    bnrt_c_model_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t in, out;
    bnrt_layer_t layer;
    bnrt_status_t st;
    mp_int_t index = mp_obj_get_int(args[1]);
    mp_int_t spatial = mp_obj_get_int(args[4]);
    mp_int_t first = n_args > 5 ? mp_obj_get_int(args[5]) : 0;
    size_t esize;

    if (index < 0 || spatial < 0 || first < 0)
        raise_status(index < 0 ? BNRT_ERR_LAYER : BNRT_ERR_SHAPE);
    st = bnrt_model_layer(&self->model, (uint32_t)index, &layer);
    if (st != BNRT_OK)
        raise_status(st);
    mp_get_buffer_raise(args[2], &in, MP_BUFFER_READ);
    mp_get_buffer_raise(args[3], &out, MP_BUFFER_WRITE);
    esize = BNRT_DTYPE_SIZE(layer.dtype);
    if (esize == 0u || in.len != out.len || in.len % esize != 0 || in.len / esize > UINT32_MAX)
        raise_status(BNRT_ERR_SHAPE);
    st = bnrt_model_run_range(&self->model, (uint32_t)index, (uint32_t)spatial, (uint32_t)first,
                              (uint32_t)(in.len / esize), in.buf, out.buf);
    if (st != BNRT_OK)
        raise_status(st);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(bnrt_c_model_run_obj, 5, 6, bnrt_c_model_run);

static void bnrt_c_model_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest)
{
    bnrt_c_model_obj_t *self = MP_OBJ_TO_PTR(self_in);

    if (dest[0] != MP_OBJ_NULL)
        return; /* read-only */
    if (attr == MP_QSTR_layer_count) {
        dest[0] = MP_OBJ_NEW_SMALL_INT(self->model.layer_count);
    } else if (attr == MP_QSTR_crc32) {
        dest[0] = mp_obj_new_int_from_uint(self->model.crc32);
    } else if (attr == MP_QSTR_run) {
        dest[0] = MP_OBJ_FROM_PTR(&bnrt_c_model_run_obj);
        dest[1] = self_in;
    }
}

static MP_DEFINE_CONST_OBJ_TYPE(bnrt_c_model_type, MP_QSTR_Model, MP_TYPE_FLAG_NONE, attr,
                                bnrt_c_model_attr);

static const mp_rom_map_elem_t bnrt_c_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_bnrt_c)},
    {MP_ROM_QSTR(MP_QSTR_load), MP_ROM_PTR(&bnrt_c_load_obj)},
    {MP_ROM_QSTR(MP_QSTR_Model), MP_ROM_PTR(&bnrt_c_model_type)},
};
static MP_DEFINE_CONST_DICT(bnrt_c_globals, bnrt_c_globals_table);

const mp_obj_module_t bnrt_c_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&bnrt_c_globals,
};

MP_REGISTER_MODULE(MP_QSTR_bnrt_c, bnrt_c_user_cmodule);
