/*
 * bcryptprimitives.dll stand-in for wine versions that lack ProcessPrng (wine < 9).
 *
 * Rust's std (since 1.78) imports ProcessPrng from bcryptprimitives.dll for HashMap seeds and
 * other randomness; Debian 12's wine 8.0 does not export it, so every Rust program built for
 * x86_64-pc-windows-gnu fails to load there. This DLL exports ProcessPrng over
 * SystemFunction036 (RtlGenRandom) from advapi32, which wine has. It is built by
 * .ci/windows-shim/build and put next to the test executables; it is never shipped.
 */
#include <windows.h>

/* RtlGenRandom: advapi32's exported name is SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes; always TRUE on success, like the real one. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x80000000u ? 0x80000000u : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
