/*
 * Replaces Debezium 3.1.1's class of this name on the local stack's classpath (cdc/local/debezium_patch.py builds it).
 *
 * Debezium 3.1.1 resets a transaction's event counters when it resumes streaming in the middle of it
 * (after a Connect, task or PostgreSQL restart): pgoutput's BEGIN is always processed again, and
 * TransactionMonitor.transactionStartedEvent() begins the transaction restored from the offsets anew.
 * The rest of the transaction is then numbered from total_order 1 again and its END counts only the
 * events after the restart, so the consumer's transaction assembly cannot tell that transaction's
 * copies apart (Debezium issue dbz#633). Debezium's own fix (3.6.1) only keeps the counters when that BEGIN
 * is the first one after the restart; PostgreSQL also re-sends the BEGIN and COMMIT of transactions that
 * committed while the restored one was being written (their events are filtered as sent before), and
 * those end the restored transaction first. This class keeps the restored counters aside at the first
 * BEGIN after the start and gives them back at the restored transaction's own BEGIN; otherwise it does
 * what 3.1.1's does: ids are "<xid>:<lsn of the event>".
 */
package io.debezium.connector.postgresql.pipeline.txmetadata;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

import io.debezium.config.CommonConnectorConfig;
import io.debezium.connector.postgresql.PostgresOffsetContext;
import io.debezium.function.BlockingConsumer;
import io.debezium.pipeline.source.spi.EventMetadataProvider;
import io.debezium.pipeline.spi.OffsetContext;
import io.debezium.pipeline.spi.Partition;
import io.debezium.pipeline.txmetadata.TransactionContext;
import io.debezium.pipeline.txmetadata.TransactionInfo;
import io.debezium.pipeline.txmetadata.TransactionMonitor;
import io.debezium.schema.SchemaNameAdjuster;
import io.debezium.spi.schema.DataCollectionId;

public class PostgresTransactionMonitor extends TransactionMonitor {

    private boolean started; // a BEGIN was processed since this task started
    private String resumedId; // the transaction the task's offsets stopped in, until its BEGIN comes again
    private Map<String, Long> resumedCounts; // its events per data collection, as the offsets stored them

    public PostgresTransactionMonitor(CommonConnectorConfig connectorConfig, EventMetadataProvider eventMetadataProvider,
                                      SchemaNameAdjuster schemaNameAdjuster, BlockingConsumer<SourceRecord> sender,
                                      String topicName) {
        super(connectorConfig, eventMetadataProvider, schemaNameAdjuster, sender, topicName);
    }

    @Override
    public void transactionStartedEvent(Partition partition, TransactionInfo transactionInfo, OffsetContext offset,
                                        Instant timestamp)
            throws InterruptedException {
        TransactionContext context = offset.getTransactionContext();
        if (!started) {
            started = true;
            if (context.isTransactionInProgress()) {
                resumedId = context.getTransactionId();
                resumedCounts = new HashMap<>(context.getPerTableEventCount());
            }
        }
        if (resumedId != null && Objects.equals(resumedId, transactionInfo.getTransactionId())) {
            // Its BEGIN went out before the restart: count on from where the offsets stopped.
            if (!Objects.equals(context.getTransactionId(), resumedId)) {
                context.beginTransaction(transactionInfo); // a transaction re-sent before it ended it
            }
            context.putPerTableEventCount(resumedCounts);
            context.setTotalEventCount(resumedCounts.values().stream().mapToLong(Long::longValue).sum());
            resumedId = null;
            resumedCounts = null;
            return;
        }
        super.transactionStartedEvent(partition, transactionInfo, offset, timestamp);
    }

    @Override
    public void dataEvent(Partition partition, DataCollectionId source, OffsetContext offset, Object key, Struct value)
            throws InterruptedException {
        // The offsets of a transaction's END still name it, but PostgreSQL then starts after its commit: the first
        // event streamed is another transaction's (re-sent ones' events are filtered), so forget the saved one.
        if (resumedId != null && !Objects.equals(resumedId, offset.getTransactionContext().getTransactionId())) {
            resumedId = null;
            resumedCounts = null;
        }
        super.dataEvent(partition, source, offset, key, value);
    }

    @Override
    protected Struct prepareTxKey(OffsetContext offsetContext) {
        return withEventId(new Struct(transactionKeySchema), offsetContext);
    }

    @Override
    protected Struct prepareTxBeginValue(OffsetContext offsetContext, Instant timestamp) {
        return withEventId(super.prepareTxBeginValue(offsetContext, timestamp), offsetContext);
    }

    @Override
    protected Struct prepareTxEndValue(OffsetContext offsetContext, Instant timestamp) {
        return withEventId(super.prepareTxEndValue(offsetContext, timestamp), offsetContext);
    }

    @Override
    protected Struct prepareTxStruct(OffsetContext offsetContext, long dataCollectionEventOrder, Struct value) {
        return withEventId(super.prepareTxStruct(offsetContext, dataCollectionEventOrder, value), offsetContext);
    }

    private Struct withEventId(Struct struct, OffsetContext offsetContext) {
        long lsn = ((PostgresOffsetContext) offsetContext).asOffsetState().lastSeenLsn().asLong();
        String xid = offsetContext.getTransactionContext().getTransactionId();
        struct.put(DEBEZIUM_TRANSACTION_ID_KEY, xid + ":" + lsn);
        return struct;
    }
}
