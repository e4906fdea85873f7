# The Kafka broker: jars from Maven Central, KRaft storage formatted once, loopback only.
KAFKA_LIB := infra/kafka/lib

.PHONY: kafka-jars kafka-up kafka-down kafka-status

$(KAFKA_LIB)/.resolved: infra/kafka/pom.xml
	@echo "kafka: resolving broker jars from Maven Central into $(KAFKA_LIB)"
	rm -rf $(KAFKA_LIB)
	mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime
	@touch $@

kafka-jars: $(KAFKA_LIB)/.resolved  ## resolve the broker's jars (idempotent)

kafka-up: kafka-jars  ## start the single-node KRaft broker on 127.0.0.1:9092 and wait until it is ready
	@infra/kafka/kafka.sh up

kafka-down:  ## stop the broker (data stays in $AISLE_HOME/kafka)
	@infra/kafka/kafka.sh down

kafka-status:
	@infra/kafka/kafka.sh status

# ---- Three brokers: the production topology, for `make test-chaos` and trying the system on it -----------
.PHONY: kafka-cluster-up kafka-cluster-down kafka-cluster-status

kafka-cluster-up: kafka-jars  ## start three KRaft brokers (127.0.0.1:9192-9194; AISLE_KAFKA_CLUSTER_PORTS) and wait
	@infra/kafka/cluster.sh up

kafka-cluster-down:  ## stop the three brokers (data stays in $AISLE_HOME/kafka-cluster)
	@infra/kafka/cluster.sh down

kafka-cluster-status:
	@infra/kafka/cluster.sh status
