-- 0013 name keys
-- Intent: communities listed by name in pinyin order (拼音排序), the order a Chinese reader expects, not in
-- code point order. Each name row holds the key it sorts by (projections/ordering.py: its syllables with
-- their tones, from pypinyin, compared by code point), written by the projector with the row, so the key
-- of the name on a date is read from the same row as the name, and a rebuild writes the next generation's
-- keys beside the live ones. Rows written before have none: the service rebuilds once on start
-- (`fill_missing_records`), and until then a list sorts them by the name itself.
-- Lock cost: adds a nullable column without a default: a catalogue change under a brief ACCESS EXCLUSIVE
-- lock on community_names, no rewrite.

alter table community_names add column name_key text;

comment on column community_names.name_key is 'What lists sort the name by: its pinyin, syllable by syllable with tones (长丰村: chang2 feng1 cun1), compared in code point order, then the name, then the community id.';
