"""`field__bigram_contains=term`: the GIN-indexed narrowing step of substring search (licensing/sql/0003)."""

from django.db.models import CharField, Lookup, TextField


class BigramContains(Lookup):
    lookup_name = "bigram_contains"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"licensing_bigrams({lhs}) @> licensing_bigrams({rhs})", [*lhs_params, *rhs_params]


CharField.register_lookup(BigramContains)
TextField.register_lookup(BigramContains)
