-- 0008: the colpali extension at 1.3, which brings the colpali_ivf index
-- access method and the <#> operator it orders by.
--
-- No index is created here: an index learns its centroids from the pages
-- present when it is built, so it is made once pages are loaded, with
-- `colpali index create` (or CREATE INDEX ... USING colpali_ivf). Until
-- then searches use the codes prefilter, as before.
ALTER EXTENSION colpali UPDATE;
