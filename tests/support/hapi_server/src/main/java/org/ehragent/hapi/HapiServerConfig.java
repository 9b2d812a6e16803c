package org.ehragent.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binstore.MemoryBinaryStorageSvcImpl;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect;
import ca.uhn.fhir.jpa.model.entity.StorageSettings;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import jakarta.persistence.EntityManagerFactory;
import org.apache.commons.dbcp2.BasicDataSource;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

import javax.sql.DataSource;
import java.time.Duration;
import java.util.Properties;

/**
 * Spring configuration of the test HAPI FHIR JPA server: HAPI's own R4 JPA configuration
 * plus the handful of beans an application must supply (data source, entity manager
 * factory, transaction manager, storage settings).
 *
 * <p>The JDBC URL comes from the system property {@code ehragent.hapi.jdbcUrl}
 * (set by {@link HapiServerMain}): H2 (the default, in memory or a file) or PostgreSQL
 * ({@code jdbc:postgresql://...}), whose user comes from {@code ehragent.hapi.dbUser} and
 * whose password, if any, from the environment variable {@code EHR_AGENT_HAPI_DB_PASSWORD}
 * (never the command line, where other users of the machine could read it).
 */
@Configuration
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	JpaBatch2Config.class,
	Batch2JobsConfig.class,
	ThreadPoolFactoryConfig.class,
	// in-memory message broker that HAPI's batch2 job framework needs (no subscriptions are set up)
	SubscriptionChannelConfig.class
})
public class HapiServerConfig {

	public static final String JDBC_URL_PROPERTY = "ehragent.hapi.jdbcUrl";
	public static final String DB_USER_PROPERTY = "ehragent.hapi.dbUser";
	public static final String DB_PASSWORD_ENV = "EHR_AGENT_HAPI_DB_PASSWORD";

	static String jdbcUrl() {
		return System.getProperty(JDBC_URL_PROPERTY, "jdbc:h2:mem:hapi;DB_CLOSE_DELAY=-1");
	}

	static boolean isPostgres() {
		return jdbcUrl().startsWith("jdbc:postgresql:");
	}

	@Bean
	public JpaStorageSettings storageSettings() {
		JpaStorageSettings s = new JpaStorageSettings();
		// HAPI's default: PUT may create client-assigned ids unless they are purely numeric
		// (Synthea's UUIDs are fine); ids assigned by the server on POST are numeric.
		s.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
		// A search right after a write must see the write: no search result reuse.
		s.setReuseCachedSearchResultsForMillis(null);
		// Conditional references ("Practitioner?identifier=...") inside transactions.
		s.setAllowInlineMatchUrlReferences(true);
		s.setAllowMultipleDelete(true);
		s.setExpungeEnabled(true);
		s.setDeleteExpungeEnabled(true);
		s.setAutoCreatePlaceholderReferenceTargets(false);
		s.setIndexMissingFields(StorageSettings.IndexEnabledEnum.DISABLED);
		// No full-text / Lucene / Elasticsearch.
		s.setHibernateSearchIndexFullText(false);
		s.setHibernateSearchIndexSearchParams(false);
		s.setAdvancedHSearchIndexing(false);
		s.setStoreResourceInHSearchIndex(false);
		// No background jobs we do not need.
		s.setEnableTaskBulkExportJobExecution(false);
		s.setEnableTaskBulkImportJobExecution(false);
		s.setEnableTaskResourceReindexing(false);
		s.setMarkResourcesForReindexingUponSearchParameterChange(false);
		return s;
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	@Bean(destroyMethod = "close")
	public BasicDataSource dataSource() {
		BasicDataSource ds = new BasicDataSource();
		ds.setUrl(jdbcUrl());
		if (isPostgres()) {
			ds.setDriver(new org.postgresql.Driver());
			ds.setUsername(System.getProperty(DB_USER_PROPERTY, "postgres"));
			String password = System.getenv(DB_PASSWORD_ENV);
			ds.setPassword(password == null ? "" : password);
		} else {
			ds.setDriver(new org.h2.Driver());
			ds.setUsername("sa");
			ds.setPassword("");
		}
		ds.setMaxTotal(20);
		ds.setMaxWait(Duration.ofSeconds(30));
		return ds;
	}

	@Bean
	@Primary
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory theBeanFactory,
			FhirContext theFhirContext,
			JpaStorageSettings theStorageSettings,
			DataSource theDataSource) {
		LocalContainerEntityManagerFactoryBean emf =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(theBeanFactory, theFhirContext, theStorageSettings);
		emf.setPersistenceUnitName("HAPI_PU");
		emf.setDataSource(theDataSource);
		Properties p = new Properties();
		p.put("hibernate.dialect",
				(isPostgres() ? HapiFhirPostgresDialect.class : HapiFhirH2Dialect.class).getName());
		p.put("hibernate.hbm2ddl.auto", "update");
		p.put("hibernate.format_sql", "false");
		p.put("hibernate.show_sql", "false");
		p.put("hibernate.jdbc.batch_size", "20");
		p.put("hibernate.cache.use_query_cache", "false");
		p.put("hibernate.cache.use_second_level_cache", "false");
		p.put("hibernate.cache.use_structured_entries", "false");
		p.put("hibernate.cache.use_minimal_puts", "false");
		p.put("hibernate.search.enabled", "false");
		emf.setJpaProperties(p);
		return emf;
	}

	@Bean
	@Primary
	public JpaTransactionManager transactionManager(EntityManagerFactory theEntityManagerFactory) {
		JpaTransactionManager tm = new JpaTransactionManager();
		tm.setEntityManagerFactory(theEntityManagerFactory);
		return tm;
	}

	@Bean
	public IBinaryStorageSvc binaryStorage() {
		return new MemoryBinaryStorageSvcImpl();
	}
}
