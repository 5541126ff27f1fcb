-- migverify: compatibility layer for posted_decisions, real_tweet_metrics.
-- Generated from migverify.toml; review it, then apply it once. One transaction: it either
-- happens completely or not at all.
BEGIN;
SET LOCAL lock_timeout TO '5s';

-- Writers queue behind these locks instead of failing midway or writing rows the backfill misses.
LOCK public.posted_decisions, public.real_tweet_metrics IN ACCESS EXCLUSIVE MODE;

-- posted_decisions -> posted_tweets_comprehensive: copy the existing rows, in key order, 50000 rows per batch.
DO $migverify$
DECLARE
  migverify_last bigint;
  migverify_upper bigint;
  migverify_copied bigint := 0;
  migverify_batch bigint;
BEGIN
  LOOP
    SELECT max(k) INTO migverify_upper
    FROM (SELECT id AS k FROM public.posted_decisions
          WHERE migverify_last IS NULL OR id > migverify_last
          ORDER BY id LIMIT 50000) AS batch;
    EXIT WHEN migverify_upper IS NULL;
    INSERT INTO public.posted_tweets_comprehensive (id, decision_id, tweet_id, tweet_text, content_type, topic, content_style, hook_type, posting_hour, quality_score, predicted_engagement_rate, bandit_arm, generation_source, posted_at, created_at)
    SELECT id, decision_id, tweet_id, content, decision_type, topic, style, hook_type, posting_hour, quality_score, predicted_er, bandit_arm, generation_source, posted_at, created_at
    FROM public.posted_decisions WHERE (migverify_last IS NULL OR id > migverify_last) AND id <= migverify_upper;
    GET DIAGNOSTICS migverify_batch = ROW_COUNT;
    
    migverify_copied := migverify_copied + migverify_batch;
    RAISE NOTICE 'migverify: %: % rows copied', 'posted_decisions', migverify_copied;
    migverify_last := migverify_upper;
  END LOOP;
END
$migverify$;

-- real_tweet_metrics -> tweet_engagement_metrics_comprehensive: copy the existing rows, in key order, 50000 rows per batch.
DO $migverify$
DECLARE
  migverify_last bigint;
  migverify_upper bigint;
  migverify_copied bigint := 0;
  migverify_batch bigint;
BEGIN
  LOOP
    SELECT max(k) INTO migverify_upper
    FROM (SELECT id AS k FROM public.real_tweet_metrics
          WHERE migverify_last IS NULL OR id > migverify_last
          ORDER BY id LIMIT 50000) AS batch;
    EXIT WHEN migverify_upper IS NULL;
    INSERT INTO public.tweet_engagement_metrics_comprehensive (id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, follows_gained, engagement_rate, collection_phase, is_verified, collected_at)
    SELECT id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, followers_gained, engagement_rate, collection_phase, is_verified, collected_at
    FROM public.real_tweet_metrics WHERE (migverify_last IS NULL OR id > migverify_last) AND id <= migverify_upper;
    GET DIAGNOSTICS migverify_batch = ROW_COUNT;
    
    migverify_copied := migverify_copied + migverify_batch;
    RAISE NOTICE 'migverify: %: % rows copied', 'real_tweet_metrics', migverify_copied;
    migverify_last := migverify_upper;
  END LOOP;
END
$migverify$;

-- posted_decisions.id: continue exactly where public.posted_decisions_id_seq is.
SELECT setval('public.posted_tweets_comprehensive_id_seq', last_value, is_called)
FROM public.posted_decisions_id_seq;

-- real_tweet_metrics.id: continue exactly where public.real_tweet_metrics_id_seq is.
SELECT setval('public.tweet_engagement_metrics_comprehensive_id_seq', last_value, is_called)
FROM public.real_tweet_metrics_id_seq;

-- real_tweet_metrics stays, renamed, until rollback.sql or a later cleanup drops it.
ALTER TABLE public.real_tweet_metrics RENAME TO real_tweet_metrics_legacy;

-- posted_decisions stays, renamed, until rollback.sql or a later cleanup drops it.
ALTER TABLE public.posted_decisions RENAME TO posted_decisions_legacy;

-- posted_decisions: auto-updatable view (one table, plain column references: PostgreSQL writes through the view itself).
CREATE VIEW public.posted_decisions
  WITH (security_invoker = true)
  AS SELECT t.id
          , t.decision_id
          , t.tweet_id
          , t.tweet_text AS content
          , t.content_type AS decision_type
          , t.topic
          , t.content_style AS style
          , t.hook_type
          , t.posting_hour
          , t.quality_score
          , t.predicted_engagement_rate AS predicted_er
          , t.bandit_arm
          , t.generation_source
          , t.posted_at
          , t.created_at
     FROM public.posted_tweets_comprehensive AS t;
COMMENT ON VIEW public.posted_decisions
  IS 'Tweets the bot decided to post, with generation metadata';
GRANT SELECT
  ON TABLE public.posted_decisions
  TO anon;
GRANT SELECT
  ON TABLE public.posted_decisions
  TO authenticated;
GRANT DELETE
  ON TABLE public.posted_decisions
  TO service_role;
GRANT INSERT
  ON TABLE public.posted_decisions
  TO service_role;
GRANT SELECT
  ON TABLE public.posted_decisions
  TO service_role;
GRANT UPDATE
  ON TABLE public.posted_decisions
  TO service_role;

-- real_tweet_metrics: auto-updatable view (one table, plain column references: PostgreSQL writes through the view itself).
CREATE VIEW public.real_tweet_metrics
  WITH (security_invoker = true)
  AS SELECT t.id
          , t.tweet_id
          , t.likes
          , t.retweets
          , t.replies
          , t.impressions
          , t.bookmarks
          , t.quotes
          , t.follows_gained AS followers_gained
          , t.engagement_rate
          , t.collection_phase
          , t.is_verified
          , t.collected_at
     FROM public.tweet_engagement_metrics_comprehensive AS t;
COMMENT ON VIEW public.real_tweet_metrics
  IS 'Engagement snapshots scraped after posting';
COMMENT ON COLUMN public.real_tweet_metrics.collection_phase
  IS 'T+1h, T+24h or T+7d';
GRANT SELECT
  ON TABLE public.real_tweet_metrics
  TO anon;
GRANT SELECT
  ON TABLE public.real_tweet_metrics
  TO authenticated;
GRANT DELETE
  ON TABLE public.real_tweet_metrics
  TO service_role;
GRANT INSERT
  ON TABLE public.real_tweet_metrics
  TO service_role;
GRANT SELECT
  ON TABLE public.real_tweet_metrics
  TO service_role;
GRANT UPDATE
  ON TABLE public.real_tweet_metrics
  TO service_role;
COMMIT;
