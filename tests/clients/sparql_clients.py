"""SPARQLWrapper and rdflib against a running `kgfuse serve` (see tests/serve.rs).

Usage: sparql_clients.py ENDPOINT TOKEN. The store holds tests/serve.rs's
DATA (ex:a knows ex:b, ex:b knows ex:c, three labels) and the service takes
updates with the bearer TOKEN.
"""

import sys

from rdflib import Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore, SPARQLUpdateStore
from SPARQLWrapper import CSV, JSON, POST, TURTLE, SPARQLWrapper

endpoint, token = sys.argv[1], sys.argv[2]
EX = "http://example.org/"

# SPARQLWrapper: SELECT as JSON, ASK, CONSTRUCT as Turtle, SELECT as CSV by POST.
client = SPARQLWrapper(endpoint)
client.setQuery(f"SELECT ?s ?o WHERE {{ ?s <{EX}knows> ?o }} ORDER BY ?s")
client.setReturnFormat(JSON)
rows = client.query().convert()["results"]["bindings"]
assert [r["s"]["value"] for r in rows] == [EX + "a", EX + "b"], rows

client.setQuery(f"ASK {{ <{EX}a> <{EX}knows> <{EX}b> }}")
assert client.query().convert()["boolean"] is True

client.setQuery(f"CONSTRUCT {{ ?s <{EX}knows> ?o }} WHERE {{ ?s <{EX}knows> ?o }}")
client.setReturnFormat(TURTLE)
constructed = Graph().parse(data=client.query().convert(), format="turtle")
assert len(constructed) == 2, constructed.serialize(format="nt")

client.setQuery("SELECT ?label WHERE { ?s rdfs:label ?label } ORDER BY ?label")
client.setMethod(POST)
client.setReturnFormat(CSV)
text = client.query().convert().decode()
assert text.split() == ["label", "Ann", "Bob", "Cy"], text

# SPARQLWrapper update with the token.
updater = SPARQLWrapper(endpoint, updateEndpoint=endpoint)
updater.addCustomHttpHeader("Authorization", f"Bearer {token}")
updater.setMethod(POST)
updater.setQuery(f"INSERT DATA {{ <{EX}d> <{EX}knows> <{EX}a> }}")
updater.query()

# rdflib's SPARQLStore reads; SPARQLUpdateStore writes through the token.
store = SPARQLStore(endpoint)
graph = Graph(store)
known = {(str(s), str(o)) for s, o in graph.subject_objects(URIRef(EX + "knows"))}
assert (EX + "d", EX + "a") in known and len(known) == 3, known

writable = SPARQLUpdateStore(
    query_endpoint=endpoint,
    update_endpoint=endpoint,
    headers={"Authorization": f"Bearer {token}"},
)
named = Graph(writable, identifier=URIRef(EX + "notes"))
named.add((URIRef(EX + "a"), URIRef(EX + "note"), Literal("first")))
client = SPARQLWrapper(endpoint)
client.setQuery(f"SELECT ?n WHERE {{ GRAPH <{EX}notes> {{ <{EX}a> <{EX}note> ?n }} }}")
client.setReturnFormat(JSON)
notes = [r["n"]["value"] for r in client.query().convert()["results"]["bindings"]]
assert notes == ["first"], notes

# Without the token the update is refused (401).
refused = SPARQLWrapper(endpoint, updateEndpoint=endpoint)
refused.setMethod(POST)
refused.setQuery(f"INSERT DATA {{ <{EX}e> <{EX}knows> <{EX}a> }}")
try:
    refused.query()
except Exception as error:  # SPARQLWrapper raises on 401
    assert "401" in str(error) or "Unauthorized" in type(error).__name__ + str(error), error
else:
    raise AssertionError("an update without the token was taken")

print("all clients ok")
