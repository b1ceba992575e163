"""Only the optional C accelerator lives here; everything else is in pyproject.toml.

`optional=True`: where there is no C compiler, no Python headers or no OpenSSL headers, the build skips the
extension with a warning and the audit uses its pure-Python paths (same results, slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("evidence.audit._scan", ["evidence/audit/_scan.c"], libraries=["crypto"], optional=True,
                             extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
