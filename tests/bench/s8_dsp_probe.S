@ Cortex-M4 s8 loops that docs/runtime.md cites (not used by the firmware):
@ s8_exact_word keeps the integer contract (5.75 instructions per element),
@ s8_fixed16 needs a different one (16-bit mult, shift 16: 4.25).
@ tests/bench/test_dsp_probe.py checks both against toolkit/reference.py.
    .syntax unified
    .thumb
    .text
@ exact contract: y = ssat8((x*m + b) >> sh), m up to 24 bits, sh a register
@ r0 in, r1 out, r2 n (multiple of 4), r3 m; [sp] b, [sp+4] sh
    .global s8_exact_word
    .thumb_func
s8_exact_word:
    push {r4-r9, lr}
    ldr r4, [sp, #28]
    ldr r5, [sp, #32]
    lsrs r2, r2, #2
    beq 2f
1:
    ldr r6, [r0], #4
    sxtb r7, r6
    sbfx r8, r6, #8, #8
    sbfx r9, r6, #16, #8
    asrs r6, r6, #24
    mla r7, r7, r3, r4
    mla r8, r8, r3, r4
    mla r9, r9, r3, r4
    mla r6, r6, r3, r4
    asr r7, r7, r5
    asr r8, r8, r5
    asr r9, r9, r5
    asr r6, r6, r5
    ssat r7, #8, r7
    ssat r8, #8, r8
    ssat r9, #8, r9
    ssat r6, #8, r6
    bfi r7, r8, #8, #8
    bfi r7, r9, #16, #8
    bfi r7, r6, #24, #8
    str r7, [r1], #4
    subs r2, r2, #1
    bne 1b
2:
    pop {r4-r9, pc}

@ contract change: m 16-bit, shift fixed at 16: SXTB16 + SMLABB/SMLATB + SSAT asr #16
@ r0 in, r1 out, r2 n (multiple of 4), r3 m16; [sp] b
    .global s8_fixed16
    .thumb_func
s8_fixed16:
    push {r4-r9, lr}
    ldr r4, [sp, #28]
    lsrs r2, r2, #2
    beq 2f
1:
    ldr r6, [r0], #4
    sxtb16 r7, r6
    sxtb16 r8, r6, ror #8
    smlabb r9, r7, r3, r4
    smlatb r7, r7, r3, r4
    smlabb r6, r8, r3, r4
    smlatb r8, r8, r3, r4
    ssat r9, #8, r9, asr #16
    ssat r6, #8, r6, asr #16
    ssat r7, #8, r7, asr #16
    ssat r8, #8, r8, asr #16
    bfi r9, r6, #8, #8
    bfi r9, r7, #16, #8
    bfi r9, r8, #24, #8
    str r9, [r1], #4
    subs r2, r2, #1
    bne 1b
2:
    pop {r4-r9, pc}
