"""Unit grids (单元网格, CJ/T 213 / GB/T 30428.1): divide, code, import, recode, aggregate."""
